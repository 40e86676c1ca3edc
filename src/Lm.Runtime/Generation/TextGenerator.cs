using Lm.Runtime.Errors;
using Lm.Runtime.Models;
using Lm.Runtime.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Generation;

/// <summary>
/// Text continuation for causal language models, token for token as Hugging Face's <c>generate</c>: the last position's
/// logits in float32, the repetition penalty, then greedy argmax (<c>do_sample=False</c>) or sampling from the warped
/// softmax with <c>torch.multinomial</c>; a row stops after an end-of-sequence token (kept) and the batch after
/// <c>max_new_tokens</c> (or <c>max_length</c>). A batch of prompts is left-padded, with position ids from the attention
/// mask, so each row continues as its prompt alone would.
/// </summary>
public static class TextGenerator
{
    /// <summary>
    /// Continues <paramref name="promptIds"/>. <paramref name="logits"/> maps <c>[1, sequence]</c> int64 ids to
    /// <c>[1, sequence, vocab]</c> logits (a causal model's forward pass). Returns the new tokens only.
    /// <paramref name="maxPositions"/> bounds prompt + output (the model's position embeddings).
    /// </summary>
    public static GenerationResult Generate(Func<Tensor, Tensor> logits, IReadOnlyList<long> promptIds, GenerationOptions options,
        int maxPositions, CancellationToken cancellation = default) =>
        Generate((ids, _) => logits(ids)[.., ^1, ..], [promptIds], options, maxPositions, cancellation)[0];

    /// <summary>
    /// Continues <paramref name="promptIds"/> with <paramref name="model"/> on its device. With <paramref name="useCache"/>
    /// (HF's <c>use_cache=True</c>) and a model that supports it, the prompt runs once (prefill) and each step then
    /// runs only the newest token against the cached keys and values; without, every step reruns the whole sequence.
    /// Both choose the same tokens.
    /// </summary>
    public static GenerationResult Generate(LanguageModel model, IReadOnlyList<long> promptIds, GenerationOptions options,
        bool useCache = true, CancellationToken cancellation = default) =>
        GenerateBatch(model, [promptIds], options, useCache, cancellation)[0];

    /// <summary>
    /// Continues each of <paramref name="prompts"/> in one batch, as HF's <c>generate</c> on a left-padded batch: shorter
    /// prompts are padded on the left with <see cref="GenerationOptions.EffectivePadTokenId"/> under a 0 in the attention
    /// mask, every row's position ids count its real tokens only (<c>cumsum(mask) - 1</c>, padding at 1, as HF's
    /// <c>prepare_inputs_for_generation</c>), and a row that has produced an eos token is filled with the pad id until
    /// the others stop. Returns one result per prompt, in order, without the padding.
    /// </summary>
    public static IReadOnlyList<GenerationResult> GenerateBatch(LanguageModel model, IReadOnlyList<IReadOnlyList<long>> prompts,
        GenerationOptions options, bool useCache = true, CancellationToken cancellation = default)
    {
        var device = model.parameters().First().device;
        // Without padding HF's positions are 0..n-1 and the mask hides nothing, which is what the model does with neither.
        bool padded = prompts.Select(p => p.Count).Distinct().Count() > 1;
        if (!useCache || !model.SupportsKeyValueCache)
            return Generate((ids, mask) =>
            {
                var deviceIds = ids.to(device);
                if (!padded) return model.Forward(deviceIds).Logits[.., ^1, ..];
                var deviceMask = mask.to(device);
                return (model.SupportsKeyValueCache
                    ? model.Forward(deviceIds, deviceMask, PositionIds(mask).to(device), cache: null)
                    : model.Forward(deviceIds, deviceMask)).Logits[.., ^1, ..];
            }, prompts, options, model.MaxPositions, cancellation);

        using var cache = new KeyValueCache(model.Config.LayerCount);
        return Generate((ids, mask) =>
        {
            // The tokens the cache has not seen: the whole (padded) prompt first, then the one chosen last per row.
            long seen = cache.Length;
            var fresh = ids[.., (int)seen..].to(device);
            if (!padded) return model.Forward(fresh, null, cache).Logits[.., ^1, ..];
            var positions = PositionIds(mask)[.., (int)seen..].to(device);
            return model.Forward(fresh, mask.to(device), positions, cache).Logits[.., ^1, ..];
        }, prompts, options, model.MaxPositions, cancellation);
    }

    /// <summary>
    /// HF's position ids for generation from a 0/1 attention mask <c>[batch, sequence]</c>: <c>cumsum(mask) - 1</c>, so
    /// each row's first real token is at 0 however much padding precedes it, and 1 at the padding (never attended).
    /// </summary>
    public static Tensor PositionIds(Tensor attentionMask)
    {
        using var scope = NewDisposeScope();
        var mask = attentionMask.to(ScalarType.Int64);
        var positions = mask.cumsum(-1, ScalarType.Int64).sub(ScalarCache.Of(1L));
        return positions.masked_fill(mask.eq(ScalarCache.Of(0L)), ScalarCache.Of(1L)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The loop. <paramref name="nextLogits"/> maps the whole sequence so far <c>[batch, n]</c> and its attention mask
    /// (both int64 on the CPU) to the scores of the next token, <c>[batch, vocab]</c>.
    /// </summary>
    private static IReadOnlyList<GenerationResult> Generate(Func<Tensor, Tensor, Tensor> nextLogits, IReadOnlyList<IReadOnlyList<long>> prompts,
        GenerationOptions options, int maxPositions, CancellationToken cancellation)
    {
        options.Validate();
        if (prompts.Count == 0)
            throw new ArgumentException("at least one prompt is needed", nameof(prompts));
        if (prompts.Any(p => p.Count == 0))
            throw new ArgumentException("every prompt must hold at least one token", nameof(prompts));
        int batch = prompts.Count, promptLength = prompts.Max(p => p.Count);
        long? pad = options.EffectivePadTokenId;
        if (pad is null && prompts.Any(p => p.Count < promptLength))
            throw new LmException(ErrorCodes.NoPadTokenForBatch,
                "The prompts have different lengths, so the shorter ones must be padded, but the model has no pad_token_id and no eos_token_id; " +
                "set pad_token_id in generation_config.json, or generate the prompts one at a time.");
        int budget = options.MaxLength is int maxLength ? maxLength - promptLength : options.MaxNewTokens;
        if (budget <= 0)
            throw new LmException(ErrorCodes.PromptReachesMaxLength,
                $"The prompt is {promptLength} tokens long{(batch > 1 ? " (the longest of the batch, padding included)" : "")}, but max_length is {options.MaxLength}: " +
                "nothing is left to generate. Raise max_length, or set max_new_tokens, which counts only the new tokens.");
        string budgetReason = options.MaxLength is null ? GenerationResult.StopMaxNewTokens : GenerationResult.StopMaxLength;

        // Left padding: each prompt ends at the last column, so the next token of every row is predicted at the same place.
        var flatIds = new long[batch * promptLength];
        var flatMask = new long[batch * promptLength];
        for (int row = 0; row < batch; row++)
        {
            int offset = promptLength - prompts[row].Count;
            for (int i = 0; i < promptLength; i++)
            {
                flatIds[row * promptLength + i] = i < offset ? pad!.Value : prompts[row][i - offset];
                flatMask[row * promptLength + i] = i < offset ? 0 : 1;
            }
        }
        var ids = tensor(flatIds, [batch, promptLength], ScalarType.Int64);
        var mask = tensor(flatMask, [batch, promptLength], ScalarType.Int64);

        // A generator of its own, seeded as HF's set_seed seeds the global one (same draws on CPU), so that other
        // threads drawing from torch's global generator cannot change the sample.
        using var generator = options.DoSample && options.Seed is long seed ? new torch.Generator((ulong)seed) : null;
        var generated = Enumerable.Range(0, batch).Select(_ => new List<long>()).ToArray();
        var stopReasons = new string?[batch];
        try
        {
            using var noGrad = torch.no_grad();
            for (int step = 0; step < budget && stopReasons.Any(r => r is null); step++)
            {
                cancellation.ThrowIfCancellationRequested();
                // Every row advances together, so the longest one is the padded length.
                if (promptLength + step >= maxPositions)
                {
                    for (int row = 0; row < batch; row++) stopReasons[row] ??= GenerationResult.StopMaxPositions;
                    break;
                }
                long[] chosen = NextTokens(nextLogits, ids, mask, options, generator);
                for (int row = 0; row < batch; row++)
                {
                    if (stopReasons[row] is not null)
                    {
                        // HF: next_tokens * unfinished + pad_token_id * (1 - unfinished).
                        chosen[row] = pad!.Value;
                        continue;
                    }
                    generated[row].Add(chosen[row]);
                    if (options.EosTokenIds.Contains(chosen[row])) stopReasons[row] = GenerationResult.StopEos;
                }
                (ids, mask) = Append(ids, mask, chosen);
            }
        }
        finally
        {
            ids.Dispose();
            mask.Dispose();
        }
        return Enumerable.Range(0, batch).Select(row => new GenerationResult(generated[row], stopReasons[row] ?? budgetReason)).ToArray();
    }

    /// <summary>One step's tokens, one per row: HF's logits processors on the float32 scores, then argmax or a draw.</summary>
    private static long[] NextTokens(Func<Tensor, Tensor, Tensor> nextLogits, Tensor ids, Tensor mask, GenerationOptions options, torch.Generator? generator)
    {
        using var scope = NewDisposeScope();
        var scores = nextLogits(ids, mask).to(ScalarType.Float32);
        // NaN logits make argmax pick an arbitrary id and multinomial fail inside libtorch; HF raises on sampling.
        LanguageModel.RequireFiniteLogits(scores, ", so no next token can be chosen");
        var processed = LogitsProcessors.Apply(ids, scores, options);
        var next = options.DoSample
            ? torch.multinomial(processed.softmax(-1), 1, generator: generator).squeeze(1)
            : processed.argmax(-1);
        return next.cpu().data<long>().ToArray();
    }

    /// <summary>The sequence and mask with one more column: the chosen tokens, attended (HF appends ones for every row).</summary>
    private static (Tensor Ids, Tensor Mask) Append(Tensor ids, Tensor mask, long[] chosen)
    {
        using var column = tensor(chosen, [chosen.Length, 1], ScalarType.Int64);
        using var ones = torch.ones(chosen.Length, 1, dtype: ScalarType.Int64);
        var newIds = cat([ids, column], dim: 1);
        var newMask = cat([mask, ones], dim: 1);
        ids.Dispose();
        mask.Dispose();
        return (newIds, newMask);
    }
}

/// <summary>
/// The tokens <see cref="TextGenerator"/> added to one prompt and why it stopped (<c>eos</c>, <c>max_new_tokens</c>,
/// <c>max_length</c>, <c>max_positions</c>).
/// </summary>
public sealed record GenerationResult(IReadOnlyList<long> NewTokenIds, string StopReason)
{
    public const string StopEos = "eos";
    public const string StopMaxNewTokens = "max_new_tokens";
    public const string StopMaxLength = "max_length";
    public const string StopMaxPositions = "max_positions";
}
