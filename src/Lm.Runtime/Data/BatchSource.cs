using static TorchSharp.torch;

namespace Lm.Runtime.Data;

/// <summary>
/// The examples a trainer or evaluator draws batches from: how many there are and how a list of them becomes a
/// <see cref="Batch"/>. A collator that draws random numbers (masked LM) exposes its generator state so that
/// checkpoints can restore it and evaluation can repeat the same masks.
/// </summary>
public interface IBatchSource
{
    /// <summary>Number of examples (blocks).</summary>
    int Count { get; }

    /// <summary>The batch of examples <paramref name="indices"/>, in that order.</summary>
    Batch Collate(IReadOnlyList<int> indices);

    /// <summary>The state of the collator's random generator, or null when it draws nothing.</summary>
    Tensor? GetRandomState();

    /// <summary>Restores a state from <see cref="GetRandomState"/>.</summary>
    void SetRandomState(Tensor state);
}

/// <summary>A tokenized split with the collator of its objective (<see cref="CausalLmCollator"/> or <see cref="MaskingCollator"/>).</summary>
public sealed class DatasetBatches(LmDataset dataset, IDataCollator collator) : IBatchSource
{
    public int Count => dataset.Count;

    public Batch Collate(IReadOnlyList<int> indices) => collator.Collate(dataset, indices);

    public Tensor? GetRandomState() => (collator as MaskingCollator)?.GetRngState();

    public void SetRandomState(Tensor state) => (collator as MaskingCollator)?.SetRngState(state);
}
