using Lm.Runtime.Errors;
using Lm.Runtime.Generation;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Generation;

public sealed class FillMaskTests
{
    private const long Mask = 9;

    /// <summary>Logits 0..4 over a vocabulary of 5 at every position (token 4 best), shifted by the position.</summary>
    private static Tensor Ramp(Tensor ids)
    {
        long length = ids.shape[1];
        return arange(5, dtype: ScalarType.Float32).repeat(1, length, 1) + arange(length, dtype: ScalarType.Float32).view(1, -1, 1);
    }

    [Fact]
    public void Each_mask_gets_its_top_k_tokens_with_softmax_scores_best_first()
    {
        var predictions = FillMask.Predict(Ramp, new long[] { 0, Mask, 3, Mask }, Mask, topK: 3);

        Assert.Equal(new[] { 1, 3 }, predictions.Select(p => p.Position));
        var first = predictions[0].Candidates;
        Assert.Equal(new long[] { 4, 3, 2 }, first.Select(c => c.TokenId));
        double total = Enumerable.Range(0, 5).Sum(i => Math.Exp(i));
        Assert.Equal(Math.Exp(4) / total, first[0].Score, 5);
        Assert.Equal(Math.Exp(2) / total, first[2].Score, 5);
    }

    [Fact]
    public void Text_without_a_mask_token_is_an_LM_error()
    {
        var error = Assert.Throws<LmException>(() => FillMask.Predict(Ramp, new long[] { 0, 1, 2 }, Mask, 5, "<mask>"));
        Assert.Equal(ErrorCodes.NoMaskToken, error.Code);
        Assert.Contains("<mask>", error.Message);
    }

    [Fact]
    public void NaN_logits_are_LM0123_not_null_scores()
    {
        Tensor Broken(Tensor ids) => Ramp(ids) * tensor(float.NaN);
        var error = Assert.Throws<LmException>(() => FillMask.Predict(Broken, new long[] { 0, Mask }, Mask, 3));
        Assert.Equal(ErrorCodes.ModelOutputNotFinite, error.Code);
    }
}
