using Lm.Runtime.Errors;
using Lm.Runtime.Models;
using static TorchSharp.torch;

namespace Lm.Runtime.Generation;

/// <summary>
/// Hugging Face's fill-mask pipeline for masked language models: at each mask position, the softmax over the
/// vocabulary and its <c>top_k</c> most likely tokens with their probabilities, best first.
/// </summary>
public static class FillMask
{
    /// <summary>One candidate for one mask: token id and its softmax probability.</summary>
    public sealed record Candidate(long TokenId, double Score);

    /// <summary>The candidates for one mask, at <see cref="Position"/> in the encoded input.</summary>
    public sealed record MaskPrediction(int Position, IReadOnlyList<Candidate> Candidates);

    /// <summary>
    /// Predicts every occurrence of <paramref name="maskTokenId"/> in <paramref name="inputIds"/> (already encoded with
    /// special tokens). <paramref name="logits"/> maps <c>[1, sequence]</c> ids to <c>[1, sequence, vocab]</c> logits.
    /// Throws LM0509 when the input holds no mask token.
    /// </summary>
    public static IReadOnlyList<MaskPrediction> Predict(Func<Tensor, Tensor> logits, IReadOnlyList<long> inputIds, long maskTokenId, int topK,
        string maskToken = "mask")
    {
        if (topK <= 0) throw new LmException(ErrorCodes.InvalidOption, $"top_k must be positive, got {topK}");
        var positions = Enumerable.Range(0, inputIds.Count).Where(i => inputIds[i] == maskTokenId).ToArray();
        if (positions.Length == 0)
            throw new LmException(ErrorCodes.NoMaskToken, $"the text holds no mask token; put {maskToken} where a word should be predicted");
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var ids = tensor(inputIds.ToArray(), dtype: ScalarType.Int64).unsqueeze(0);
        var scores = logits(ids)[0].to(ScalarType.Float32);
        // NaN scores would come back as null probabilities in the JSON with exit 0.
        LanguageModel.RequireFiniteLogits(scores, ", so no token can be ranked");
        var predictions = new List<MaskPrediction>();
        foreach (int position in positions)
        {
            var probabilities = scores[position].softmax(-1);
            int k = (int)Math.Min(topK, probabilities.shape[0]);
            var (values, indices) = probabilities.topk(k);
            float[] scoreValues = values.data<float>().ToArray();
            long[] tokenIds = indices.data<long>().ToArray();
            predictions.Add(new MaskPrediction(position,
                tokenIds.Select((id, i) => new Candidate(id, scoreValues[i])).ToArray()));
        }
        return predictions;
    }
}
