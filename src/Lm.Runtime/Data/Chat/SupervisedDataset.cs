using static TorchSharp.torch;

namespace Lm.Runtime.Data.Chat;

/// <summary>
/// Tokenized supervised examples (or packed sequences) with TRL's <c>DataCollatorForLanguageModeling</c>: each
/// batch right-padded to its longest example (rounded up to <c>pad_to_multiple_of</c>) with the pad token, labels
/// -100 and attention 0 on the padding. In a packed sequence the first token of every example has label -100, as
/// TRL's padding-free collator sets it (its position id is 0): it would otherwise be predicted from the example
/// before it. The model attends across a packed row (lm-tune has no varlen attention kernel), as TRL's packing does
/// with an attention implementation other than FlashAttention.
/// </summary>
public sealed class SupervisedDataset : IBatchSource
{
    private readonly IReadOnlyList<PackedSequence> _sequences;
    private readonly int _padTokenId;
    private readonly int? _padToMultipleOf;

    public SupervisedDataset(IReadOnlyList<PackedSequence> sequences, int padTokenId, int? padToMultipleOf, SupervisedStats stats)
    {
        _sequences = sequences;
        _padTokenId = padTokenId;
        _padToMultipleOf = padToMultipleOf;
        Stats = stats;
    }

    public int Count => _sequences.Count;

    /// <summary>What preparation did (rows, examples, tokens, trained tokens).</summary>
    public SupervisedStats Stats { get; }

    /// <summary>Sequence <paramref name="index"/> as the collator takes it (labels with packed starts masked).</summary>
    public PackedSequence this[int index] => _sequences[index];

    /// <summary>The first <paramref name="count"/> sequences (<c>max_train_samples</c>).</summary>
    public SupervisedDataset Take(int count) => new(_sequences.Take(count).ToList(), _padTokenId, _padToMultipleOf, Stats);

    /// <summary>The labels a batch row gets: the example's, with -100 at the start of every packed example but the first.</summary>
    public int[] CollatedLabels(int index)
    {
        var sequence = _sequences[index];
        int[] labels = (int[])sequence.Labels.Clone();
        if (Stats.Packed)
        {
            // TRL: labels[position_ids == 0] = -100, the first token of every packed example (the first of the row
            // included; a causal LM's shift drops that one anyway).
            int offset = 0;
            foreach (int length in sequence.SequenceLengths)
            {
                if (offset < labels.Length) labels[offset] = SupervisedTokenizer.IgnoreIndex;
                offset += length;
            }
        }
        return labels;
    }

    public Batch Collate(IReadOnlyList<int> indices)
    {
        if (indices.Count == 0) throw new ArgumentException("a batch needs at least one example", nameof(indices));
        int width = indices.Max(i => _sequences[i].InputIds.Length);
        if (_padToMultipleOf is > 0 and var multiple && width % multiple != 0) width = (width / multiple + 1) * multiple;
        var ids = new long[indices.Count * width];
        var labels = new long[indices.Count * width];
        var mask = new long[indices.Count * width];
        for (int row = 0; row < indices.Count; row++)
        {
            var sequence = _sequences[indices[row]];
            int[] rowLabels = CollatedLabels(indices[row]);
            int offset = row * width;
            for (int t = 0; t < width; t++)
            {
                bool real = t < sequence.InputIds.Length;
                ids[offset + t] = real ? sequence.InputIds[t] : _padTokenId;
                labels[offset + t] = real ? rowLabels[t] : SupervisedTokenizer.IgnoreIndex;
                mask[offset + t] = real ? 1 : 0;
            }
        }
        long[] shape = [indices.Count, width];
        return new Batch(tensor(ids, shape), tensor(mask, shape), tensor(labels, shape));
    }

    public Tensor? GetRandomState() => null;

    public void SetRandomState(Tensor state)
    {
    }
}

/// <summary>
/// What supervised preparation did to a split: rows read, examples kept (after dropping those truncation left
/// without a trained token), sequences (packed or not), tokens, and tokens with a label.
/// </summary>
public sealed record SupervisedStats(
    string Split, string Source, string Format, long Rows, long Examples, long Sequences, long Tokens, long TrainedTokens,
    long DroppedExamples, int MaxLength, bool Packed);
