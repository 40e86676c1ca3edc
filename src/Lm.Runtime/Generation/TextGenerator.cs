using Lm.Runtime.Errors;
using Lm.Runtime.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Generation;

/// <summary>
/// Text continuation for causal language models, token for token as Hugging Face's <c>generate</c>: the
/// last position's logits in float32, greedy argmax (<c>do_sample=False</c>) or sampling from the warped softmax
/// with <c>torch.multinomial</c>; stops after an end-of-sequence token (kept) or <c>max_new_tokens</c>.
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
        Generate(sequence => logits(tensor(sequence.ToArray(), dtype: ScalarType.Int64).unsqueeze(0)), promptIds, options, maxPositions, cancellation);

    /// <summary>
    /// Continues <paramref name="promptIds"/> with <paramref name="model"/> on its device. With <paramref name="useCache"/>
    /// (HF's <c>use_cache=True</c>) and a model that supports it, the prompt runs once (prefill) and each step then
    /// runs only the newest token against the cached keys and values; without, every step reruns the whole sequence.
    /// Both choose the same tokens.
    /// </summary>
    public static GenerationResult Generate(LanguageModel model, IReadOnlyList<long> promptIds, GenerationOptions options,
        bool useCache = true, CancellationToken cancellation = default)
    {
        var device = model.parameters().First().device;
        if (!useCache || !model.SupportsKeyValueCache)
            return Generate(ids => model.Forward(ids.to(device)).Logits, promptIds, options, model.MaxPositions, cancellation);
        using var cache = new KeyValueCache(model.Config.LayerCount);
        return Generate(sequence =>
        {
            // The tokens the cache has not seen: the whole prompt first, then the one chosen last.
            long[] fresh = sequence.Skip((int)cache.Length).ToArray();
            using var ids = tensor(fresh, dtype: ScalarType.Int64).unsqueeze(0);
            return model.Forward(ids.to(device), null, cache).Logits;
        }, promptIds, options, model.MaxPositions, cancellation);
    }

    /// <summary>The loop: <paramref name="logits"/> gives <c>[1, n, vocab]</c> logits whose last row scores the next token.</summary>
    private static GenerationResult Generate(Func<List<long>, Tensor> logits, IReadOnlyList<long> promptIds, GenerationOptions options,
        int maxPositions, CancellationToken cancellation)
    {
        options.Validate();
        if (promptIds.Count == 0)
            throw new ArgumentException("the prompt must hold at least one token", nameof(promptIds));
        // A generator of its own, seeded as HF's set_seed seeds the global one (same draws on CPU), so that other
        // threads drawing from torch's global generator cannot change the sample.
        using var generator = options.DoSample && options.Seed is long seed ? new torch.Generator((ulong)seed) : null;
        var sequence = new List<long>(promptIds);
        var generated = new List<long>();
        string stopReason = GenerationResult.StopMaxNewTokens;
        using var noGrad = torch.no_grad();
        while (generated.Count < options.MaxNewTokens)
        {
            cancellation.ThrowIfCancellationRequested();
            if (sequence.Count >= maxPositions)
            {
                stopReason = GenerationResult.StopMaxPositions;
                break;
            }
            long next = NextToken(logits, sequence, options, generator);
            sequence.Add(next);
            generated.Add(next);
            if (options.EosTokenIds.Contains(next))
            {
                stopReason = GenerationResult.StopEos;
                break;
            }
        }
        return new GenerationResult(generated, stopReason);
    }

    private static long NextToken(Func<List<long>, Tensor> logits, List<long> sequence, GenerationOptions options, torch.Generator? generator)
    {
        using var scope = NewDisposeScope();
        var all = logits(sequence);
        var scores = all[.., ^1, ..].to(ScalarType.Float32);
        // NaN logits make argmax pick an arbitrary id and multinomial fail inside libtorch; HF raises on sampling.
        LanguageModel.RequireFiniteLogits(scores, ", so no next token can be chosen");
        if (!options.DoSample) return scores.argmax(-1).item<long>();
        var warped = LogitsWarpers.Apply(scores, options);
        var probabilities = warped.softmax(-1);
        return torch.multinomial(probabilities, 1, generator: generator).item<long>();
    }
}

/// <summary>The tokens <see cref="TextGenerator"/> added and why it stopped (<c>eos</c>, <c>max_new_tokens</c>, <c>max_positions</c>).</summary>
public sealed record GenerationResult(IReadOnlyList<long> NewTokenIds, string StopReason)
{
    public const string StopEos = "eos";
    public const string StopMaxNewTokens = "max_new_tokens";
    public const string StopMaxPositions = "max_positions";
}
