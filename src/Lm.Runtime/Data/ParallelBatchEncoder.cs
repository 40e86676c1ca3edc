using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;

namespace Lm.Runtime.Data;

/// <summary>The ids of one map batch of rows.</summary>
/// <param name="Tokens">All rows' ids, in row order.</param>
/// <param name="ExampleLengths">Line by line: the length of each kept row's ids; grouping: empty.</param>
/// <param name="Rows">Rows in the batch (blank rows included).</param>
internal sealed record EncodedBatch(int[] Tokens, int[] ExampleLengths, int Rows);

/// <summary>
/// Tokenizes map batches on several threads and hands them back in input order. One thread reads rows while the
/// others tokenize, and at most a few batches per thread are in memory at once, so corpora larger than RAM stream
/// through. The output never depends on the thread count.
/// </summary>
internal static class ParallelBatchEncoder
{
    private const int BatchesInFlightPerWorker = 4;

    /// <summary>
    /// Cuts <paramref name="rows"/> into map batches of <paramref name="rowsPerBatch"/> (never spanning one of
    /// <paramref name="shardEnds"/>, the row positions where a map shard ends) and encodes them on
    /// <paramref name="workers"/> threads, yielding the results in row order.
    /// </summary>
    public static IEnumerable<EncodedBatch> Encode(IEnumerable<string> rows, int rowsPerBatch, int workers,
        Func<string[], EncodedBatch> encode, IReadOnlyList<long>? shardEnds = null)
    {
        var batches = new BatchCutter(rowsPerBatch, shardEnds);
        if (workers <= 1)
        {
            foreach (string[] batch in batches.Cut(rows, CancellationToken.None)) yield return encode(batch);
            yield break;
        }

        using var pipeline = new Pipeline(rows, batches, workers, encode);
        for (long next = 0; pipeline.TryTake(next, out var batch); next++) yield return batch;
    }

    /// <summary>
    /// The contiguous row ranges of <c>Dataset.shard(num_shards, index, contiguous=True)</c>: the first
    /// <c>rows % shards</c> shards have one row more. Returns each shard's end row.
    /// </summary>
    public static long[] ShardEnds(long rows, int shards)
    {
        shards = (int)Math.Clamp(shards, 1, Math.Max(1, rows));
        long size = rows / shards, extra = rows % shards;
        return Enumerable.Range(0, shards).Select(i => size * (i + 1) + Math.Min(i + 1, extra)).ToArray();
    }

    /// <summary>Cuts rows into map batches of <c>rowsPerBatch</c>, restarting at every shard end.</summary>
    private sealed class BatchCutter(int rowsPerBatch, IReadOnlyList<long>? shardEnds)
    {
        public IEnumerable<string[]> Cut(IEnumerable<string> rows, CancellationToken cancel)
        {
            var batch = new List<string>(rowsPerBatch);
            long position = 0;
            int shard = 0;
            foreach (string row in rows)
            {
                cancel.ThrowIfCancellationRequested();
                batch.Add(row);
                position++;
                bool atShardEnd = shardEnds is not null && shard < shardEnds.Count && position == shardEnds[shard];
                if (atShardEnd) shard++;
                if (batch.Count == rowsPerBatch || atShardEnd)
                {
                    yield return batch.ToArray();
                    batch.Clear();
                }
            }
            if (batch.Count > 0) yield return batch.ToArray();
        }
    }

    /// <summary>A reader thread, tokenizer threads, and an in-order hand-over guarded by one lock.</summary>
    private sealed class Pipeline : IDisposable
    {
        private readonly object _gate = new();
        private readonly Dictionary<long, EncodedBatch> _done = new();
        private readonly BlockingCollection<(long Index, string[] Rows)> _queue;
        private readonly SemaphoreSlim _inFlight;
        private readonly CancellationTokenSource _cancel = new();
        private readonly Task[] _tasks;
        private long _end = -1;
        private ExceptionDispatchInfo? _failure;

        public Pipeline(IEnumerable<string> rows, BatchCutter batches, int workers, Func<string[], EncodedBatch> encode)
        {
            int window = workers * BatchesInFlightPerWorker;
            _queue = new BlockingCollection<(long, string[])>(window);
            _inFlight = new SemaphoreSlim(window, window);
            _tasks = new Task[workers + 1];
            _tasks[0] = Task.Factory.StartNew(() => Read(rows, batches), TaskCreationOptions.LongRunning);
            for (int i = 1; i <= workers; i++)
                _tasks[i] = Task.Factory.StartNew(() => Tokenize(encode), TaskCreationOptions.LongRunning);
        }

        /// <summary>Waits for batch <paramref name="index"/>; false after the last one; rethrows a reader or tokenizer failure.</summary>
        public bool TryTake(long index, out EncodedBatch batch)
        {
            lock (_gate)
            {
                while (true)
                {
                    _failure?.Throw();
                    if (_done.Remove(index, out batch!))
                    {
                        _inFlight.Release();
                        return true;
                    }
                    if (_end == index) return false;
                    Monitor.Wait(_gate);
                }
            }
        }

        private void Read(IEnumerable<string> rows, BatchCutter batches)
        {
            long index = 0;
            try
            {
                foreach (string[] batch in batches.Cut(rows, _cancel.Token))
                {
                    _inFlight.Wait(_cancel.Token);
                    _queue.Add((index++, batch), _cancel.Token);
                }
                Signal(() => _end = index);
            }
            catch (OperationCanceledException) when (_cancel.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                Signal(() => _failure ??= ExceptionDispatchInfo.Capture(e));
            }
            finally
            {
                _queue.CompleteAdding();
            }
        }

        private void Tokenize(Func<string[], EncodedBatch> encode)
        {
            try
            {
                foreach (var (index, rows) in _queue.GetConsumingEnumerable(_cancel.Token))
                {
                    var batch = encode(rows);
                    Signal(() => _done[index] = batch);
                }
            }
            catch (OperationCanceledException) when (_cancel.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                Signal(() => _failure ??= ExceptionDispatchInfo.Capture(e));
            }
        }

        private void Signal(Action change)
        {
            lock (_gate)
            {
                change();
                Monitor.PulseAll(_gate);
            }
        }

        public void Dispose()
        {
            // The consumer stopped (done, failed, or abandoned the enumeration): stop the threads, then free.
            _cancel.Cancel();
            Task.WaitAll(_tasks.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)).ToArray());
            _queue.Dispose();
            _inFlight.Dispose();
            _cancel.Dispose();
        }
    }

    /// <summary>Encodes a batch for grouping: every row's <c>tokenizer(text)</c> ids, concatenated.</summary>
    public static EncodedBatch EncodeForGrouping(ITextEncoder encoder, string[] rows)
    {
        int chars = 0;
        foreach (string row in rows) chars += row.Length;
        var ids = new List<int>(chars / 3 + 16);
        foreach (string row in rows) encoder.Encode(row, ids);
        return new EncodedBatch(CollectionsMarshal.AsSpan(ids).ToArray(), [], rows.Length);
    }

    /// <summary>
    /// Encodes a batch line by line as run_mlm.py does: rows that are empty or whitespace-only are skipped, the
    /// others truncated to <paramref name="maxLength"/> with their special tokens kept.
    /// </summary>
    public static EncodedBatch EncodeLineByLine(ITextEncoder encoder, string[] rows, int maxLength)
    {
        var ids = new List<int>();
        var lengths = new List<int>(rows.Length);
        foreach (string row in rows)
        {
            if (row.Length == 0 || row.AsSpan().IsWhiteSpace()) continue;
            int before = ids.Count;
            encoder.EncodeTruncated(row, ids, maxLength);
            lengths.Add(ids.Count - before);
        }
        return new EncodedBatch(CollectionsMarshal.AsSpan(ids).ToArray(), lengths.ToArray(), rows.Length);
    }
}
