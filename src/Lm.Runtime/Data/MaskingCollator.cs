using Lm.Runtime.Errors;
using Lm.Runtime.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Data;

/// <summary>Settings of <see cref="MaskingCollator"/>, named as HF's <c>DataCollatorForLanguageModeling</c>.</summary>
public sealed record MaskingOptions
{
    /// <summary>Chance that a (non-special, non-padding) token is selected for prediction.</summary>
    public double MlmProbability { get; init; } = 0.15;

    /// <summary>Chance that a selected token becomes the mask token.</summary>
    public double MaskReplaceProbability { get; init; } = 0.8;

    /// <summary>Chance that a selected token becomes a random token; the rest stay unchanged.</summary>
    public double RandomReplaceProbability { get; init; } = 0.1;

    /// <summary>Round the padded length up to a multiple of this.</summary>
    public int? PadToMultipleOf { get; init; }

    /// <summary>Pad every batch to at least this length (run_mlm.py <c>pad_to_max_length</c> with <c>max_seq_length</c>).</summary>
    public int? PadToLength { get; init; }

    /// <summary>
    /// Select whole words (WordPiece: a token starting with <c>##</c> continues the previous word), as HF's
    /// <c>DataCollatorForWholeWordMask</c>.
    /// </summary>
    public bool WholeWordMask { get; init; }

    /// <summary>Seed of the masking generator (HF's collator <c>seed</c>); the trainer's seed is the usual choice.</summary>
    public long Seed { get; init; } = 42;
}

/// <summary>
/// HF's <c>DataCollatorForLanguageModeling</c> (mlm=True) with a seeded <c>torch.Generator</c>: pads the examples,
/// selects each non-special, non-padding token with <c>mlm_probability</c> (<c>torch.bernoulli</c>); of the
/// selected, <c>bernoulli(0.8)</c> become the mask token and, of the rest, <c>bernoulli(0.1 / 0.2)</c> a token from
/// <c>torch.randint(len(tokenizer))</c>; labels are -100 wherever nothing was selected. The random draws are made
/// in HF's order and shapes, so a generator in the same state gives the same masks as HF. Masks are redrawn every
/// time a batch is formed (dynamic masking): the same examples in the next epoch get new masks, and a collator
/// with the same seed repeats the whole sequence.
/// </summary>
public sealed class MaskingCollator : IDataCollator, IDisposable
{
    private const int MaxWholeWordPredictions = 512;

    private readonly MaskingOptions _options;
    private readonly int _maskTokenId;
    private readonly int? _padTokenId;
    private readonly int _vocabSize;
    private readonly HashSet<int> _specialIds;
    private readonly Func<int, string> _idToToken;
    private readonly Generator _generator;

    public MaskingCollator(ITextEncoder tokenizer, MaskingOptions? options = null)
    {
        _options = options ?? new MaskingOptions();
        if (_options.MlmProbability is < 0 or > 1)
            throw new LmException(ErrorCodes.InvalidDataArgument, $"mlm_probability must be between 0 and 1, got {_options.MlmProbability}");
        if (_options.MaskReplaceProbability is < 0 or > 1 || _options.RandomReplaceProbability is < 0 or > 1 ||
            _options.MaskReplaceProbability + _options.RandomReplaceProbability > 1)
            throw new LmException(ErrorCodes.InvalidDataArgument,
                "mask and random replacement probabilities must each be in [0, 1] and sum to at most 1");
        _maskTokenId = tokenizer.MaskTokenId ?? throw new LmException(ErrorCodes.TokenizerLacksSpecialToken,
            "masked language modeling needs a tokenizer with a mask token; use the causal LM objective for this model");
        _padTokenId = tokenizer.PadTokenId;
        _vocabSize = tokenizer.VocabSize;
        _specialIds = tokenizer.SpecialTokenIds.ToHashSet();
        _idToToken = tokenizer.IdToToken;
        _generator = new Generator((ulong)_options.Seed, CPU);
    }

    /// <summary>The generator's state, to save with a checkpoint so a resumed run draws the same masks.</summary>
    public Tensor GetRngState() => _generator.get_state();

    /// <summary>Restores a state from <see cref="GetRngState"/>.</summary>
    public void SetRngState(Tensor state) => _generator.set_state(state);

    public Batch Collate(LmDataset dataset, IReadOnlyList<int> indices)
    {
        using var scope = NewDisposeScope();
        long[] ids = PaddedExamples.Read(dataset, indices, _padTokenId, _options.PadToMultipleOf,
            _options.PadToLength ?? 0, out int[] lengths, out int width);
        long[] shape = [indices.Count, width];

        // special_tokens_mask: HF marks special ids, and tokenizer.pad marks the padding.
        var noMask = new bool[ids.Length];
        for (int i = 0; i < indices.Count; i++)
        {
            for (int j = 0; j < width; j++)
            {
                int k = i * width + j;
                noMask[k] = j >= lengths[i] || _specialIds.Contains((int)ids[k]);
            }
        }

        Tensor inputs = tensor(ids, shape);
        Tensor labels = inputs.clone();
        Tensor specialMask = tensor(noMask, shape);
        Tensor selected = _options.WholeWordMask
            ? WholeWordSelection(ids, lengths, width, shape, specialMask)
            : SelectTokens(shape, specialMask);

        labels.masked_fill_(selected.logical_not(), ScalarCache.Of(-100L));
        Tensor replaced = bernoulli(full(shape, ScalarCache.Of(_options.MaskReplaceProbability), ScalarType.Float32), _generator)
            .to_type(ScalarType.Bool).logical_and(selected);
        inputs.masked_fill_(replaced, _maskTokenId);

        if (_options.MaskReplaceProbability != 1 && _options.RandomReplaceProbability != 0)
        {
            double scaled = _options.RandomReplaceProbability / (1 - _options.MaskReplaceProbability);
            Tensor random = bernoulli(full(shape, ScalarCache.Of(scaled), ScalarType.Float32), _generator)
                .to_type(ScalarType.Bool).logical_and(selected).logical_and(replaced.logical_not());
            Tensor randomWords = randint(_vocabSize, shape, ScalarType.Int64, generator: _generator);
            inputs = where(random, randomWords, inputs);
        }

        // HF's DataCollatorForWholeWordMask returns only input_ids and labels, so the model attends to padding too
        // (attention_mask None is all ones); the same here, for the same losses on padded batches.
        var attentionMask = _options.WholeWordMask
            ? ones(shape, ScalarType.Int64)
            : PaddedExamples.AttentionMask(lengths, width);
        var batch = new Batch(inputs, attentionMask, labels);
        batch.InputIds.MoveToOuterDisposeScope();
        batch.AttentionMask.MoveToOuterDisposeScope();
        batch.Labels.MoveToOuterDisposeScope();
        return batch;
    }

    private Tensor SelectTokens(long[] shape, Tensor specialMask)
    {
        Tensor probability = full(shape, ScalarCache.Of(_options.MlmProbability), ScalarType.Float32);
        probability.masked_fill_(specialMask, ScalarCache.Of(0.0));
        return bernoulli(probability, _generator).to_type(ScalarType.Bool);
    }

    /// <summary>
    /// DataCollatorForWholeWordMask: per example, words (a token plus its <c>##</c> continuations; [CLS] and [SEP]
    /// skipped) in a <c>randperm</c> order are taken while they fit <c>round(length * mlm_probability)</c>
    /// predictions (at least 1, at most 512); special and padding positions are then cleared.
    /// </summary>
    private Tensor WholeWordSelection(long[] ids, int[] lengths, int width, long[] shape, Tensor specialMask)
    {
        var chosen = new bool[ids.Length];
        for (int i = 0; i < lengths.Length; i++)
        {
            var words = new List<List<int>>();
            for (int j = 0; j < lengths[i]; j++)
            {
                string token = _idToToken((int)ids[i * width + j]);
                if (token is "[CLS]" or "[SEP]") continue;
                if (words.Count > 0 && token.StartsWith("##", StringComparison.Ordinal)) words[^1].Add(j);
                else words.Add([j]);
            }

            long[] order;
            using (var permutation = randperm(words.Count, ScalarType.Int64, generator: _generator))
                order = permutation.data<long>().ToArray();
            int budget = (int)Math.Min(MaxWholeWordPredictions,
                Math.Max(1, Math.Round(lengths[i] * _options.MlmProbability, MidpointRounding.ToEven)));
            int taken = 0;
            foreach (long w in order)
            {
                if (taken >= budget) break;
                var word = words[(int)w];
                if (taken + word.Count > budget) continue;
                foreach (int j in word) chosen[i * width + j] = true;
                taken += word.Count;
            }
        }
        return tensor(chosen, shape).logical_and(specialMask.logical_not());
    }

    public void Dispose() => _generator.Dispose();
}
