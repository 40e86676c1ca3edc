using static TorchSharp.torch;

namespace Lm.Runtime.Data;

/// <summary>
/// run_clm.py's <c>default_data_collator</c>: stacks the blocks; labels are the input ids (the model shifts them).
/// Blocks from grouping all have one length; examples of different lengths are right-padded with the pad token,
/// their padding getting attention 0 and label -100.
/// </summary>
public sealed class CausalLmCollator : IDataCollator
{
    private readonly int? _padTokenId;
    private readonly int? _padToMultipleOf;

    /// <param name="padTokenId">Needed only when examples differ in length.</param>
    /// <param name="padToMultipleOf">Round the padded length up to a multiple of this.</param>
    public CausalLmCollator(int? padTokenId = null, int? padToMultipleOf = null)
    {
        _padTokenId = padTokenId;
        _padToMultipleOf = padToMultipleOf;
    }

    public Batch Collate(LmDataset dataset, IReadOnlyList<int> indices)
    {
        long[] ids = PaddedExamples.Read(dataset, indices, _padTokenId, _padToMultipleOf, 0, out int[] lengths, out int width);
        var labels = (long[])ids.Clone();
        for (int i = 0; i < lengths.Length; i++) labels.AsSpan(i * width + lengths[i], width - lengths[i]).Fill(-100);
        long[] shape = [indices.Count, width];
        return new Batch(tensor(ids, shape), PaddedExamples.AttentionMask(lengths, width), tensor(labels, shape));
    }
}
