using Lm.Runtime.Errors;

namespace Lm.Runtime.Generation;

/// <summary>
/// The subset of Hugging Face's <c>GenerationConfig</c> lm-tune implements, with HF's defaults: greedy unless
/// <see cref="DoSample"/>; when sampling, temperature 1.0, top_k 50 and top_p 1.0 as HF's <c>GenerationConfig</c>.
/// <see cref="GenerationConfigReader"/> fills it from a model's generation_config.json.
/// </summary>
public sealed record GenerationOptions
{
    /// <summary>Tokens to add after the prompt at most (HF's <c>max_new_tokens</c>); ignored when <see cref="MaxLength"/> is set.</summary>
    public int MaxNewTokens { get; init; } = 20;

    /// <summary>
    /// HF's <c>max_length</c>: prompt (padded, in a batch) plus new tokens at most. Null uses <see cref="MaxNewTokens"/>;
    /// HF prefers <c>max_new_tokens</c> when both are given, so set this only when it is the one in force.
    /// </summary>
    public int? MaxLength { get; init; }

    /// <summary>Sample from the warped distribution; false = greedy (argmax), as <c>generate(do_sample=False)</c>.</summary>
    public bool DoSample { get; init; }

    /// <summary>Divides the logits before sampling; HF's <c>TemperatureLogitsWarper</c> (skipped at 1.0).</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>Keep the k most likely tokens; 0 disables (HF's <c>TopKLogitsWarper</c>; default 50).</summary>
    public int TopK { get; init; } = 50;

    /// <summary>Keep the smallest set of tokens whose probability reaches p; 1.0 disables (HF's <c>TopPLogitsWarper</c>).</summary>
    public double TopP { get; init; } = 1.0;

    /// <summary>
    /// HF's <c>RepetitionPenaltyLogitsProcessor</c>: every token already in the sequence (prompt included) has a positive
    /// logit divided by it and a negative one multiplied; 1.0 disables. It applies to greedy search too.
    /// </summary>
    public double RepetitionPenalty { get; init; } = 1.0;

    /// <summary>Seeds torch's generator before sampling (HF's <c>set_seed</c>); null leaves it as is.</summary>
    public long? Seed { get; init; }

    /// <summary>Generation stops after any of these is produced (it is kept in the output, as HF does).</summary>
    public IReadOnlyList<long> EosTokenIds { get; init; } = Array.Empty<long>();

    /// <summary>
    /// The id a finished row of a batch gets while the others go on (HF's <c>pad_token_id</c>); null falls back to the
    /// first end-of-sequence id, as HF does with its "Setting pad_token_id to eos_token_id" warning.
    /// </summary>
    public long? PadTokenId { get; init; }

    /// <summary>The pad id in force: <see cref="PadTokenId"/>, else the first eos id, else null.</summary>
    public long? EffectivePadTokenId => PadTokenId ?? (EosTokenIds.Count > 0 ? EosTokenIds[0] : null);

    /// <summary>
    /// Rejects what HF's <c>GenerationConfig.validate</c> and its processors' constructors reject, naming the option. The
    /// sampling warpers are checked only when sampling: HF builds them (and raises) only then.
    /// </summary>
    public void Validate()
    {
        if (MaxNewTokens <= 0)
            throw new LmException(ErrorCodes.InvalidOption, $"max_new_tokens must be positive, got {MaxNewTokens}");
        if (MaxLength is <= 0)
            throw new LmException(ErrorCodes.InvalidOption, $"max_length must be positive, got {MaxLength}");
        if (!(RepetitionPenalty > 0) || !double.IsFinite(RepetitionPenalty))
            throw new LmException(ErrorCodes.InvalidOption, $"repetition_penalty must be a positive number, got {RepetitionPenalty}");
        if (!DoSample) return;
        if (!(Temperature > 0) || !double.IsFinite(Temperature))
            throw new LmException(ErrorCodes.InvalidOption, $"temperature must be a positive number, got {Temperature}");
        if (TopK < 0)
            throw new LmException(ErrorCodes.InvalidOption, $"top_k must be 0 (off) or positive, got {TopK}");
        // HF's TopPLogitsWarper accepts 0 (it then keeps only the best token) up to 1.
        if (!(TopP is >= 0 and <= 1))
            throw new LmException(ErrorCodes.InvalidOption, $"top_p must be in [0, 1], got {TopP}");
    }
}
