using System.Runtime.InteropServices;

namespace Lm.Runtime.Data;

/// <summary>The ids of one map batch of rows.</summary>
/// <param name="Tokens">All rows' ids, in row order.</param>
/// <param name="ExampleLengths">Line by line: the length of each kept row's ids; grouping: empty.</param>
/// <param name="Rows">Rows in the batch (blank rows included).</param>
internal sealed record EncodedBatch(int[] Tokens, int[] ExampleLengths, int Rows);

/// <summary>
/// Tokenizes map batches on several threads and hands them back in input order, with at most a few batches per
/// thread in memory, so corpora larger than RAM stream through. The output never depends on the thread count.
/// </summary>
internal static class ParallelBatchEncoder
{
    private const int BatchesInFlightPerWorker = 4;

    public static IEnumerable<EncodedBatch> Encode(IEnumerable<string> rows, int rowsPerBatch, int workers,
        Func<string[], EncodedBatch> encode)
    {
        workers = Math.Max(1, workers);
        int window = workers * BatchesInFlightPerWorker;
        using var rowEnumerator = rows.GetEnumerator();
        var wave = new List<string[]>(window);
        var results = new EncodedBatch[window];
        var options = new ParallelOptions { MaxDegreeOfParallelism = workers };
        bool more = true;
        while (more)
        {
            wave.Clear();
            while (wave.Count < window && (more = ReadBatch(rowEnumerator, rowsPerBatch, out var batch)))
                wave.Add(batch);
            if (!more && wave.Count == 0) yield break;

            if (workers == 1 || wave.Count == 1)
            {
                for (int i = 0; i < wave.Count; i++) results[i] = encode(wave[i]);
            }
            else
            {
                Parallel.For(0, wave.Count, options, i => results[i] = encode(wave[i]));
            }
            for (int i = 0; i < wave.Count; i++)
            {
                yield return results[i];
                results[i] = null!;
            }
        }
    }

    private static bool ReadBatch(IEnumerator<string> rows, int rowsPerBatch, out string[] batch)
    {
        var list = new List<string>(rowsPerBatch);
        while (list.Count < rowsPerBatch && rows.MoveNext()) list.Add(rows.Current);
        batch = list.ToArray();
        return list.Count > 0;
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
