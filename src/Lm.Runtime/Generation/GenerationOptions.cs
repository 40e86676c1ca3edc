using Lm.Runtime.Errors;

namespace Lm.Runtime.Generation;

/// <summary>
/// The subset of Hugging Face's <c>GenerationConfig</c> lm-tune implements, with HF's defaults: greedy unless
/// <see cref="DoSample"/>; when sampling, temperature 1.0, top_k 50 and top_p 1.0 as HF's <c>GenerationConfig</c>.
/// </summary>
public sealed record GenerationOptions
{
    /// <summary>Tokens to add after the prompt at most (HF's <c>max_new_tokens</c>).</summary>
    public int MaxNewTokens { get; init; } = 20;

    /// <summary>Sample from the warped distribution; false = greedy (argmax), as <c>generate(do_sample=False)</c>.</summary>
    public bool DoSample { get; init; }

    /// <summary>Divides the logits before sampling; HF's <c>TemperatureLogitsWarper</c> (skipped at 1.0).</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>Keep the k most likely tokens; 0 disables (HF's <c>TopKLogitsWarper</c>; default 50).</summary>
    public int TopK { get; init; } = 50;

    /// <summary>Keep the smallest set of tokens whose probability reaches p; 1.0 disables (HF's <c>TopPLogitsWarper</c>).</summary>
    public double TopP { get; init; } = 1.0;

    /// <summary>Seeds torch's generator before sampling (HF's <c>set_seed</c>); null leaves it as is.</summary>
    public long? Seed { get; init; }

    /// <summary>Generation stops after any of these is produced (it is kept in the output, as HF does).</summary>
    public IReadOnlyList<long> EosTokenIds { get; init; } = Array.Empty<long>();

    /// <summary>Rejects what HF's <c>GenerationConfig.validate</c> rejects, naming the option.</summary>
    public void Validate()
    {
        if (MaxNewTokens <= 0)
            throw new LmException(ErrorCodes.InvalidOption, $"max_new_tokens must be positive, got {MaxNewTokens}");
        if (!(Temperature > 0) || !double.IsFinite(Temperature))
            throw new LmException(ErrorCodes.InvalidOption, $"temperature must be a positive number, got {Temperature}");
        if (TopK < 0)
            throw new LmException(ErrorCodes.InvalidOption, $"top_k must be 0 (off) or positive, got {TopK}");
        if (!(TopP is > 0 and <= 1))
            throw new LmException(ErrorCodes.InvalidOption, $"top_p must be in (0, 1], got {TopP}");
    }
}
