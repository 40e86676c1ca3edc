using Lm.Runtime.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Generation;

/// <summary>
/// Hugging Face's sampling warpers on <c>[batch, vocab]</c> float32 scores, in the order <c>generate</c> applies
/// them: temperature, top-k, top-p. Removed tokens get -inf, so softmax gives them probability 0.
/// </summary>
public static class LogitsWarpers
{
    /// <summary>Applies the warpers <paramref name="options"/> turns on; HF skips temperature 1.0, top_k 0 and top_p 1.0.</summary>
    public static Tensor Apply(Tensor scores, GenerationOptions options)
    {
        using var scope = NewDisposeScope();
        var warped = scores;
        if (options.Temperature != 1.0) warped = Temperature(warped, options.Temperature);
        if (options.TopK != 0) warped = TopK(warped, options.TopK);
        if (options.TopP < 1.0) warped = TopP(warped, options.TopP);
        return (ReferenceEquals(warped, scores) ? warped.clone() : warped).MoveToOuterDisposeScope();
    }

    /// <summary><c>scores / temperature</c>.</summary>
    public static Tensor Temperature(Tensor scores, double temperature) => scores.div(ScalarCache.Of(temperature));

    /// <summary>Keeps every token scoring at least the k-th best score (ties at the boundary survive, as in HF).</summary>
    public static Tensor TopK(Tensor scores, int topK, int minTokensToKeep = 1)
    {
        using var scope = NewDisposeScope();
        long k = Math.Min(Math.Max(topK, minTokensToKeep), scores.shape[^1]);
        var kth = scores.topk((int)k, dim: -1).values[.., ^1..];
        return scores.masked_fill(scores < kth, ScalarCache.Of(double.NegativeInfinity)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Nucleus filtering as HF: sort ascending, drop tokens whose cumulative probability stays at or below
    /// <c>1 - top_p</c>, always keeping the <paramref name="minTokensToKeep"/> most likely.
    /// </summary>
    public static Tensor TopP(Tensor scores, double topP, int minTokensToKeep = 1)
    {
        using var scope = NewDisposeScope();
        var (sortedLogits, sortedIndices) = scores.sort(dim: -1, descending: false);
        var cumulative = sortedLogits.softmax(-1).cumsum(-1);
        var sortedRemove = cumulative <= (1 - topP);
        sortedRemove[.., ^minTokensToKeep..] = false;
        var remove = sortedRemove.scatter(1, sortedIndices, sortedRemove);
        return scores.masked_fill(remove, ScalarCache.Of(double.NegativeInfinity)).MoveToOuterDisposeScope();
    }
}
