using Lm.Runtime.Errors;
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
        int maxPositions, CancellationToken cancellation = default)
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

    private static long NextToken(Func<Tensor, Tensor> logits, List<long> sequence, GenerationOptions options, torch.Generator? generator)
    {
        using var scope = NewDisposeScope();
        var ids = tensor(sequence.ToArray(), dtype: ScalarType.Int64).unsqueeze(0);
        var all = logits(ids);
        var scores = all[.., ^1, ..].to(ScalarType.Float32);
        // NaN logits make argmax pick an arbitrary id and multinomial fail inside libtorch; HF raises on sampling.
        if (!scores.isfinite().all().item<bool>())
            throw new LmException(ErrorCodes.ModelOutputNotFinite,
                "The model's logits hold NaN or infinite values, so no next token can be chosen: its weights are not finite " +
                "(a damaged checkpoint, or one saved after training diverged).");
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
