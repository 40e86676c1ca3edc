using Lm.Runtime.Native;
using static TorchSharp.torch;

namespace Lm.Runtime.Generation;

/// <summary>
/// The score processing of HF's <c>generate</c> for one step (<c>_get_logits_processor</c>): the repetition penalty,
/// which applies to greedy search and sampling alike, then, only when sampling, the warpers of
/// <see cref="LogitsWarpers"/> (temperature, top-k, top-p with <c>min_tokens_to_keep</c> 1, as for one beam).
/// </summary>
public static class LogitsProcessors
{
    /// <summary>
    /// Processes <paramref name="scores"/> <c>[batch, vocab]</c> (float32) for the next token after
    /// <paramref name="inputIds"/> <c>[batch, sequence]</c>: the whole sequence so far, prompt and padding included, as HF
    /// passes it. Returns a new tensor.
    /// </summary>
    public static Tensor Apply(Tensor inputIds, Tensor scores, GenerationOptions options)
    {
        using var scope = NewDisposeScope();
        var processed = options.RepetitionPenalty != 1.0 ? RepetitionPenalty(inputIds, scores, options.RepetitionPenalty) : scores;
        if (options.DoSample) processed = LogitsWarpers.Apply(processed, options);
        return (ReferenceEquals(processed, scores) ? processed.clone() : processed).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// HF's <c>RepetitionPenaltyLogitsProcessor</c>: the score of every token id in <paramref name="inputIds"/> (each once,
    /// however often it occurs) is divided by <paramref name="penalty"/> when positive and multiplied when negative, so
    /// a penalty above 1 always makes a repeat less likely.
    /// </summary>
    public static Tensor RepetitionPenalty(Tensor inputIds, Tensor scores, double penalty)
    {
        using var scope = NewDisposeScope();
        var ids = inputIds.to(scores.device);
        var seen = scores.gather(1, ids);
        var penalised = where(seen.lt(ScalarCache.Of(0.0)), seen.mul(ScalarCache.Of(penalty)), seen.div(ScalarCache.Of(penalty)));
        return scores.scatter(1, ids, penalised).MoveToOuterDisposeScope();
    }
}
