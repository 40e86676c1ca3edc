using Lm.Runtime.Data;
using Lm.Runtime.Models;
using Lm.Runtime.Tests.Data;
using Lm.Runtime.Training;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Training;

/// <summary>Blocks of token ids held in memory, collated as run_clm.py does (labels = inputs, no padding).</summary>
internal sealed class MemoryBlocks(int[][] blocks) : IBatchSource
{
    public int Count => blocks.Length;

    public Batch Collate(IReadOnlyList<int> indices)
    {
        int width = blocks[indices[0]].Length;
        var ids = new long[indices.Count * width];
        for (int i = 0; i < indices.Count; i++)
            for (int j = 0; j < width; j++) ids[i * width + j] = blocks[indices[i]][j];
        long[] shape = [indices.Count, width];
        return new Batch(tensor(ids, shape), ones(shape, ScalarType.Int64), tensor(ids, shape));
    }

    public Tensor? GetRandomState() => null;

    public void SetRandomState(Tensor state) { }

    /// <summary><paramref name="count"/> blocks of <paramref name="length"/> ids that follow a learnable pattern with noise.</summary>
    public static MemoryBlocks Patterned(int count, int length, int vocab, int seed)
    {
        var random = new Random(seed);
        var blocks = new int[count][];
        for (int b = 0; b < count; b++)
        {
            int start = random.Next(vocab);
            blocks[b] = Enumerable.Range(0, length)
                .Select(i => random.NextDouble() < 0.1 ? random.Next(vocab) : (start + 3 * i) % vocab).ToArray();
        }
        return new MemoryBlocks(blocks);
    }
}

internal static class TrainerFixtures
{
    public const int Vocab = 64;

    /// <summary>A 2-layer, 32-wide GPT-2 with the given dropout, HF-initialised from <paramref name="seed"/>.</summary>
    public static LanguageModel TinyGpt2(long seed = 7, double dropout = 0.0) => LanguageModel.Create(new Gpt2Config
    {
        VocabSize = Vocab, NPositions = 32, NEmbd = 32, NLayer = 2, NHead = 2,
        ResidPdrop = dropout, EmbdPdrop = dropout, AttnPdrop = dropout,
    }, seed);

    /// <summary>Arguments for quick runs: no TensorBoard, no saving unless asked.</summary>
    public static TrainingArguments Args(string outputDir, int maxSteps = 10) => new()
    {
        OutputDir = outputDir,
        MaxSteps = maxSteps,
        PerDeviceTrainBatchSize = 4,
        PerDeviceEvalBatchSize = 4,
        LearningRate = 1e-3,
        LoggingSteps = 1,
        SaveStrategy = IntervalStrategy.No,
        ReportTo = "none",
    };

    public static float[] Weights(LanguageModel model) =>
        model.named_parameters().OrderBy(p => p.name, StringComparer.Ordinal)
            .SelectMany(p => p.parameter.detach().to(ScalarType.Float32).data<float>().ToArray()).ToArray();

    /// <summary>
    /// Ten logged steps of <see cref="TinyGpt2"/> with dropout <paramref name="dropout"/> everywhere on patterned
    /// blocks: the losses and the weights after, to compare two ways of computing the same training.
    /// </summary>
    public static (double[] Losses, float[] Weights) TrainTinyGpt2(bool bf16, double dropout)
    {
        using var dir = new ScratchFolder();
        var data = MemoryBlocks.Patterned(24, 16, Vocab, seed: 3);
        using var model = TinyGpt2(dropout: dropout);
        var args = Args(dir.Path);
        args.Bf16 = bf16;
        using var trainer = new Trainer(model, args, data);
        trainer.Train();
        var losses = trainer.State.LogHistory.Where(e => e.Values.ContainsKey("loss")).Select(e => e["loss"]).ToArray();
        return (losses, Weights(model));
    }
}
