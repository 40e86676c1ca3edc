using Lm.Runtime.Generation;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Generation;

public sealed class LogitsWarpersTests
{
    private static float[] Row(Tensor t) => t[0].data<float>().ToArray();

    private static Tensor Scores(params float[] values) => tensor(values).unsqueeze(0);

    [Fact]
    public void Top_k_keeps_the_k_best_and_ties_at_the_boundary()
    {
        Assert.Equal(new[] { float.NegativeInfinity, float.NegativeInfinity, 3f, 4f }, Row(LogitsWarpers.TopK(Scores(1, 2, 3, 4), 2)));
        Assert.Equal(new[] { float.NegativeInfinity, 3f, 3f, 4f }, Row(LogitsWarpers.TopK(Scores(1, 3, 3, 4), 2)));
    }

    [Fact]
    public void Top_p_drops_the_tail_whose_cumulative_probability_stays_under_one_minus_p()
    {
        // softmax(1,2,3,4) = 0.032, 0.087, 0.237, 0.644; ascending cumulative 0.032, 0.119, 0.356, 1.0.
        Assert.Equal(new[] { float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity, 4f },
            Row(LogitsWarpers.TopP(Scores(1, 2, 3, 4), 0.5)));
        Assert.Equal(new[] { float.NegativeInfinity, float.NegativeInfinity, 3f, 4f }, Row(LogitsWarpers.TopP(Scores(1, 2, 3, 4), 0.7)));
        // Unsorted input: filtering follows the scores, not the positions.
        Assert.Equal(new[] { 4f, float.NegativeInfinity, 3f, float.NegativeInfinity }, Row(LogitsWarpers.TopP(Scores(4, 1, 3, 2), 0.7)));
    }

    [Fact]
    public void Top_p_always_keeps_the_best_token()
    {
        Assert.Equal(new[] { float.NegativeInfinity, 9f }, Row(LogitsWarpers.TopP(Scores(0, 9), 0.0001)));
    }

    [Fact]
    public void Warpers_apply_in_hf_order_temperature_then_top_k_then_top_p()
    {
        // Temperature 0.5 doubles the scores: softmax(2,4,6,8) = 0.002, 0.016, 0.117, 0.865;
        // top-k 3 drops the first; top-p 0.8 then keeps only the best (cumulative tail 0.135 <= 0.2).
        var options = new GenerationOptions { DoSample = true, Temperature = 0.5, TopK = 3, TopP = 0.8 };
        Assert.Equal(new[] { float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity, 8f },
            Row(LogitsWarpers.Apply(Scores(1, 2, 3, 4), options)));
    }

    [Fact]
    public void Defaults_leave_scores_unchanged_except_top_k_fifty()
    {
        var scores = Scores(Enumerable.Range(0, 60).Select(i => (float)i).ToArray());
        float[] warped = Row(LogitsWarpers.Apply(scores, new GenerationOptions { DoSample = true }));
        Assert.Equal(10, warped.Count(float.IsNegativeInfinity));
        Assert.Equal(59f, warped[^1]);
    }
}
