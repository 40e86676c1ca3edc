using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Data;

/// <summary>
/// One training or evaluation batch: int64 tensors of shape [batch, length]. <see cref="Labels"/> is -100 where no
/// loss is taken (padding; for masked LM every position that was not selected). Dispose when the step is done.
/// </summary>
public sealed record Batch(Tensor InputIds, Tensor AttentionMask, Tensor Labels) : IDisposable
{
    /// <summary>Number of examples.</summary>
    public long Size => InputIds.shape[0];

    /// <summary>Moves the three tensors to <paramref name="device"/> (a new batch; this one stays as it is).</summary>
    public Batch To(Device device) => new(InputIds.to(device), AttentionMask.to(device), Labels.to(device));

    public void Dispose()
    {
        InputIds.Dispose();
        AttentionMask.Dispose();
        Labels.Dispose();
    }
}

/// <summary>Forms a <see cref="Batch"/> from examples of a dataset, as HF's <c>data_collator</c> does.</summary>
public interface IDataCollator
{
    /// <summary>The batch of examples <paramref name="indices"/> of <paramref name="dataset"/>, in that order.</summary>
    Batch Collate(LmDataset dataset, IReadOnlyList<int> indices);
}

/// <summary>Reads examples and pads them to a common length, the step shared by the collators.</summary>
internal static class PaddedExamples
{
    /// <summary>
    /// Rows of ids, right-padded with <paramref name="padId"/> to the longest (at least <paramref name="minLength"/>),
    /// rounded up to a multiple of <paramref name="padToMultipleOf"/>; <paramref name="lengths"/> gives each row's
    /// real length.
    /// </summary>
    public static long[] Read(LmDataset dataset, IReadOnlyList<int> indices, int? padId, int? padToMultipleOf,
        int minLength, out int[] lengths, out int width)
    {
        if (indices.Count == 0) throw new ArgumentException("a batch needs at least one example", nameof(indices));
        lengths = new int[indices.Count];
        int longest = 0;
        for (int i = 0; i < indices.Count; i++)
        {
            lengths[i] = dataset.GetLength(indices[i]);
            longest = Math.Max(longest, lengths[i]);
        }
        width = Math.Max(longest, minLength);
        if (padToMultipleOf is > 0 and var multiple && width % multiple != 0) width = (width / multiple + 1) * multiple;

        int padded = width;
        bool needsPadding = lengths.Any(length => length != padded);
        if (needsPadding && padId is null)
            throw new Errors.LmException(Errors.ErrorCodes.TokenizerLacksSpecialToken,
                "the examples need padding but the tokenizer has no pad token");

        var ids = new long[indices.Count * width];
        for (int i = 0; i < indices.Count; i++)
        {
            var row = ids.AsSpan(i * width, width);
            dataset.CopyTo(indices[i], row);
            if (lengths[i] < width) row[lengths[i]..].Fill(padId!.Value);
        }
        return ids;
    }

    /// <summary>1 for real tokens, 0 for padding.</summary>
    public static Tensor AttentionMask(int[] lengths, int width)
    {
        var mask = new long[lengths.Length * width];
        for (int i = 0; i < lengths.Length; i++) mask.AsSpan(i * width, lengths[i]).Fill(1);
        return torch.tensor(mask, [lengths.Length, width]);
    }
}
