using Lm.Runtime.Data;
using Lm.Runtime.Evaluation;
using Lm.Runtime.Models;
using Lm.Runtime.Training;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Data;

/// <summary>
/// Ctrl+C while the data is tokenized or a model evaluated: the token is checked per map batch and per evaluation
/// batch, so the work stops within one batch, and nothing half-written is left behind.
/// </summary>
public sealed class PrepareCancellationTests
{
    private const int Rows = 400, RowsPerBatch = 10;

    /// <summary>CharEncoder that cancels <paramref name="cancel"/> when it encodes row <paramref name="cancelAt"/> and counts rows after it.</summary>
    private sealed class CancellingEncoder(CancellationTokenSource cancel, int cancelAt) : HookedCharEncoder
    {
        private int _rows;

        public int RowsAfterCancel;

        protected override void BeforeRow(ReadOnlySpan<char> text)
        {
            int row = Interlocked.Increment(ref _rows);
            if (row == cancelAt) cancel.Cancel();
            else if (row > cancelAt) Interlocked.Increment(ref RowsAfterCancel);
        }

        public override string Fingerprint => base.Fingerprint + "|cancel-test-" + Guid.NewGuid().ToString("N");
    }

    private static string[] Entries(string folder) =>
        Directory.EnumerateFileSystemEntries(folder, "*", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(folder, p).Replace('\\', '/')).Order(StringComparer.Ordinal).ToArray();

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Cancelling_while_tokenizing_stops_within_the_batches_in_flight_and_leaves_no_cache_entry(int workers)
    {
        using var dir = new ScratchFolder();
        string train = dir.File("train.txt", string.Concat(Enumerable.Range(0, Rows).Select(i => $"row {i} of the text\n")));
        string cacheRoot = Path.Combine(dir.Path, "cache");
        using var cancel = new CancellationTokenSource();
        // Row 25 is in the third map batch of 10 rows.
        var encoder = new CancellingEncoder(cancel, cancelAt: 25);
        var args = new DataArguments { TrainFile = train, BlockSize = 8, GroupBatchSize = RowsPerBatch, PreprocessingNumWorkers = workers };

        Assert.ThrowsAny<OperationCanceledException>(() =>
            DataPipeline.Prepare(args, encoder, DataObjective.Clm, train: true, validation: false, cacheRoot: cacheRoot, cancellation: cancel.Token));

        // One worker: the rest of the batch being encoded (rows 26-30), nothing after it. More workers: at most the
        // batches already handed to them (4 per worker in flight) are finished.
        int bound = workers == 1 ? 5 : RowsPerBatch * 4 * workers + 5;
        Assert.InRange(encoder.RowsAfterCancel, 0, bound);
        Assert.True(encoder.RowsAfterCancel < Rows - 25, $"{encoder.RowsAfterCancel} rows were encoded after the cancellation");
        // The partial folder was deleted and no entry was published.
        Assert.Equal(["datasets"], Entries(cacheRoot));
    }

    [Fact]
    public void Cancelling_before_a_complete_entry_is_reused_leaves_the_entry_as_it_was()
    {
        using var dir = new ScratchFolder();
        string train = dir.File("train.txt", string.Concat(Enumerable.Range(0, 50).Select(i => $"row {i}\n")));
        string cacheRoot = Path.Combine(dir.Path, "cache");
        var args = new DataArguments { TrainFile = train, BlockSize = 8, GroupBatchSize = RowsPerBatch, PreprocessingNumWorkers = 1 };
        var encoder = new CharEncoder(salt: Guid.NewGuid().ToString("N"));
        using (DataPipeline.Prepare(args, encoder, DataObjective.Clm, validation: false, cacheRoot: cacheRoot)) { }
        string[] before = Entries(cacheRoot);

        Assert.ThrowsAny<OperationCanceledException>(() =>
            DataPipeline.Prepare(args, encoder, DataObjective.Clm, validation: false, cacheRoot: cacheRoot, cancellation: new CancellationToken(true)));

        Assert.Equal(before, Entries(cacheRoot));
        Assert.Contains(before, e => e.EndsWith("/" + TokenCache.CompletionMarker, StringComparison.Ordinal));
    }

    /// <summary>Blocks of a tiny causal LM that cancel the token when batch <paramref name="cancelAt"/> is collated.</summary>
    private sealed class CancellingBatches(CancellationTokenSource cancel, int cancelAt) : IBatchSource
    {
        public int Collated;

        public int Count => 12;

        public Batch Collate(IReadOnlyList<int> indices)
        {
            if (++Collated == cancelAt) cancel.Cancel();
            var ids = tensor(indices.SelectMany(i => Enumerable.Range(0, 8).Select(t => (long)((i * 7 + t * 3) % 50))).ToArray(), new long[] { indices.Count, 8 });
            return new Batch(ids, ones_like(ids), ids.clone());
        }

        public Tensor? GetRandomState() => null;

        public void SetRandomState(Tensor state)
        {
        }
    }

    [Fact]
    public void Cancelling_an_evaluation_stops_before_the_next_batch_and_writes_no_results()
    {
        using var dir = new ScratchFolder();
        using var model = LanguageModel.Create(new Gpt2Config { VocabSize = 50, NPositions = 16, NEmbd = 16, NLayer = 1, NHead = 2 }, seed: 1);
        using var cancel = new CancellationTokenSource();
        var batches = new CancellingBatches(cancel, cancelAt: 2);
        var args = new TrainingArguments { OutputDir = Path.Combine(dir.Path, "out"), PerDeviceEvalBatchSize = 2, ReportTo = "none" };
        using var trainer = new Trainer(model, args, trainData: null, evalData: batches);

        Assert.ThrowsAny<OperationCanceledException>(() => trainer.RunEvaluation(cancel.Token));

        // The batch being evaluated when the token was cancelled finished; none of the other four started.
        Assert.Equal(2, batches.Collated);
        Assert.False(Directory.Exists(args.OutputDir) && Entries(args.OutputDir).Length > 0);
        Assert.Empty(trainer.State.LogHistory);
    }
}
