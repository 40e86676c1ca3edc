using Lm.Runtime.Generation;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Generation;

public sealed class LogitsProcessorsTests
{
    private static float[] Row(Tensor t, int row = 0) => t[row].data<float>().ToArray();

    [Fact]
    public void Repetition_penalty_divides_positive_and_multiplies_negative_scores_of_seen_tokens_once()
    {
        // Row 0 has seen tokens 1, 3 and 3 again (penalised once); row 1 has seen 0 and 2.
        using var scores = tensor(new float[,] { { 2f, 3f, -1f, -4f, 5f }, { 6f, 1f, -2f, 0.5f, -3f } });
        using var ids = tensor(new long[,] { { 1, 3, 3 }, { 0, 2, 2 } });
        using var penalised = LogitsProcessors.RepetitionPenalty(ids, scores, 2.0);
        Assert.Equal(new[] { 2f, 1.5f, -1f, -8f, 5f }, Row(penalised, 0));
        Assert.Equal(new[] { 3f, 1f, -4f, 0.5f, -3f }, Row(penalised, 1));
        // A penalty below 1 rewards repeats instead: 3 / 0.5 and -4 × 0.5.
        using var rewarded = LogitsProcessors.RepetitionPenalty(ids, scores, 0.5);
        Assert.Equal(new[] { 2f, 6f, -1f, -2f, 5f }, Row(rewarded, 0));
    }

    [Fact]
    public void Repetition_penalty_applies_to_greedy_search_and_comes_before_the_warpers()
    {
        using var scores = tensor(new float[] { 4f, 3f, 1f, 0f }).unsqueeze(0);
        using var ids = tensor(new long[] { 0 }).unsqueeze(0);
        // Greedy: only the penalty, 4 / 8 = 0.5; the warpers are not built.
        var greedy = new GenerationOptions { RepetitionPenalty = 8.0, TopK = 1 };
        Assert.Equal(new[] { 0.5f, 3f, 1f, 0f }, Row(LogitsProcessors.Apply(ids, scores, greedy)));
        // Sampling: the penalty first drops token 0 to 0.5, so top-k 2 keeps tokens 1 and 2 (top-k first would keep 0 and 1).
        var sampled = greedy with { DoSample = true, TopK = 2 };
        Assert.Equal(new[] { float.NegativeInfinity, 3f, 1f, float.NegativeInfinity }, Row(LogitsProcessors.Apply(ids, scores, sampled)));
        // Nothing enabled: an unchanged copy.
        using var copy = LogitsProcessors.Apply(ids, scores, new GenerationOptions());
        Assert.Equal(Row(scores), Row(copy));
    }

    [Theory]
    [InlineData(0.3)]
    [InlineData(0.6)]
    [InlineData(0.9)]
    [InlineData(0.0)]
    public void Top_p_keeps_what_an_independent_loop_over_the_ascending_cumulative_keeps(double topP)
    {
        var random = new Random(5);
        float[] values = Enumerable.Range(0, 40).Select(_ => (float)(random.NextDouble() * 6 - 3)).ToArray();
        using var scores = tensor(values).unsqueeze(0);
        float[] warped = Row(LogitsWarpers.TopP(scores, topP));

        // HF's definition, in double: sort ascending, softmax, cumulative sum; remove while cumulative <= 1 - top_p,
        // but never the last (most likely) token.
        int[] ascending = Enumerable.Range(0, values.Length).OrderBy(i => values[i]).ToArray();
        double max = values.Max();
        double total = values.Sum(v => Math.Exp(v - max));
        var expectedRemoved = new HashSet<int>();
        double cumulative = 0;
        for (int rank = 0; rank < ascending.Length; rank++)
        {
            cumulative += Math.Exp(values[ascending[rank]] - max) / total;
            if (cumulative <= 1 - topP && rank < ascending.Length - 1) expectedRemoved.Add(ascending[rank]);
        }
        for (int i = 0; i < values.Length; i++)
            Assert.Equal(expectedRemoved.Contains(i) ? float.NegativeInfinity : values[i], warped[i]);
        // The case filters something; top_p 0 keeps only the best token, the others keep several.
        if (topP == 0) Assert.Equal(values.Length - 1, expectedRemoved.Count);
        else Assert.InRange(expectedRemoved.Count, 1, values.Length - 2);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(40)]
    [InlineData(100)]
    public void Top_k_keeps_what_an_independent_count_keeps(int topK)
    {
        var random = new Random(9);
        float[] values = Enumerable.Range(0, 40).Select(_ => (float)Math.Round(random.NextDouble() * 10, 1)).ToArray();
        using var scores = tensor(values).unsqueeze(0);
        float[] warped = Row(LogitsWarpers.TopK(scores, topK));
        // A token survives when fewer than k tokens score strictly higher (ties with the k-th survive, as in HF).
        for (int i = 0; i < values.Length; i++)
        {
            int higher = values.Count(v => v > values[i]);
            Assert.Equal(higher < topK ? values[i] : float.NegativeInfinity, warped[i]);
        }
    }

    [Fact]
    public void Temperature_then_top_k_then_top_p_in_one_pass_match_a_hand_computation()
    {
        // Scores 1..5, temperature 2: 0.5, 1, 1.5, 2, 2.5. top_k 4 drops the 0.5. softmax over the four left:
        // exp(1, 1.5, 2, 2.5) / sum = 0.1015, 0.1674, 0.2760, 0.4551; ascending cumulative 0.1015, 0.2689, 0.5449, 1.
        // top_p 0.7 drops those at or below 0.3: the scaled 1 and 1.5 (tokens 3 and 0).
        using var scores = tensor(new float[] { 3f, 1f, 5f, 2f, 4f }).unsqueeze(0);
        var options = new GenerationOptions { DoSample = true, Temperature = 2.0, TopK = 4, TopP = 0.7 };
        using var ids = tensor(new long[] { 0 }).unsqueeze(0);
        Assert.Equal(new[] { float.NegativeInfinity, float.NegativeInfinity, 2.5f, float.NegativeInfinity, 2f }, Row(LogitsProcessors.Apply(ids, scores, options)));
    }
}
