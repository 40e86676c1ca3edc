using Lm.Runtime.Errors;
using Lm.Runtime.Generation;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Generation;

[Collection(TorchRandomCollection.Name)]
public sealed class TextGeneratorTests
{
    private const int Vocab = 11;

    /// <summary>A bigram "model": after token t the best next token is (3t + 1) mod 11, with a clear margin.</summary>
    private static Tensor Bigram(Tensor ids)
    {
        long[] tokens = ids[0].data<long>().ToArray();
        var logits = zeros(1, tokens.Length, Vocab);
        for (int i = 0; i < tokens.Length; i++)
        {
            logits[0, i, (tokens[i] * 3 + 1) % Vocab] = tensor(5f);
            logits[0, i, (tokens[i] * 3 + 2) % Vocab] = tensor(4f);
        }
        return logits;
    }

    [Theory]
    [InlineData(false, float.NaN)]
    [InlineData(true, float.NaN)]
    [InlineData(false, float.PositiveInfinity)]
    public void Non_finite_logits_are_LM0123_in_greedy_search_and_sampling(bool sample, float bad)
    {
        Tensor Broken(Tensor ids)
        {
            var logits = Bigram(ids);
            logits[0, -1, 3] = tensor(bad);
            return logits;
        }
        var options = new GenerationOptions { MaxNewTokens = 3, DoSample = sample, Seed = sample ? 1 : null };
        var error = Assert.Throws<LmException>(() => TextGenerator.Generate(Broken, new long[] { 2 }, options, maxPositions: 64));
        Assert.Equal(ErrorCodes.ModelOutputNotFinite, error.Code);
    }

    [Fact]
    public void Greedy_takes_the_argmax_each_step_until_max_new_tokens()
    {
        var result = TextGenerator.Generate(Bigram, new long[] { 2 }, new GenerationOptions { MaxNewTokens = 4 }, maxPositions: 64);
        // 2 -> 7 -> 22 % 11 = 0 -> 1 -> 4
        Assert.Equal(new long[] { 7, 0, 1, 4 }, result.NewTokenIds);
        Assert.Equal(GenerationResult.StopMaxNewTokens, result.StopReason);
    }

    [Fact]
    public void Greedy_stops_after_the_eos_token_and_keeps_it()
    {
        var options = new GenerationOptions { MaxNewTokens = 10, EosTokenIds = new long[] { 1 } };
        var result = TextGenerator.Generate(Bigram, new long[] { 2 }, options, maxPositions: 64);
        Assert.Equal(new long[] { 7, 0, 1 }, result.NewTokenIds);
        Assert.Equal(GenerationResult.StopEos, result.StopReason);
    }

    [Fact]
    public void Generation_stops_at_the_models_position_limit()
    {
        var result = TextGenerator.Generate(Bigram, new long[] { 2, 3 }, new GenerationOptions { MaxNewTokens = 10 }, maxPositions: 4);
        Assert.Equal(2, result.NewTokenIds.Count);
        Assert.Equal(GenerationResult.StopMaxPositions, result.StopReason);
    }

    [Fact]
    public void Sampling_with_a_seed_repeats_and_top_k_one_equals_greedy()
    {
        var sampled = new GenerationOptions { MaxNewTokens = 8, DoSample = true, Seed = 7, TopK = 0 };
        var first = TextGenerator.Generate(Bigram, new long[] { 2 }, sampled, 64);
        var second = TextGenerator.Generate(Bigram, new long[] { 2 }, sampled, 64);
        Assert.Equal(first.NewTokenIds, second.NewTokenIds);

        var topOne = TextGenerator.Generate(Bigram, new long[] { 2 }, sampled with { TopK = 1 }, 64);
        var greedy = TextGenerator.Generate(Bigram, new long[] { 2 }, new GenerationOptions { MaxNewTokens = 8 }, 64);
        Assert.Equal(greedy.NewTokenIds, topOne.NewTokenIds);
    }

    [Fact]
    public void Seeded_sampling_draws_what_hf_draws_after_set_seed()
    {
        // HF: set_seed(7) seeds torch's global generator, then each step is torch.multinomial(softmax(scores), 1).
        // With TopK = 0 and temperature 1 no warper changes the scores, so the expected draws come from the global
        // generator directly (this test class must then not run beside others that draw from it).
        var options = new GenerationOptions { MaxNewTokens = 8, DoSample = true, Seed = 7, TopK = 0 };
        var sampled = TextGenerator.Generate(Bigram, new long[] { 2 }, options, 64);

        var expected = new List<long>();
        var sequence = new List<long> { 2 };
        manual_seed(7);
        for (int step = 0; step < 8; step++)
        {
            using var logits = Bigram(tensor(sequence.ToArray()).unsqueeze(0));
            using var probabilities = logits[.., ^1, ..].softmax(-1);
            long next = multinomial(probabilities, 1).item<long>();
            expected.Add(next);
            sequence.Add(next);
        }
        Assert.Equal(expected, sampled.NewTokenIds);
    }

    [Fact]
    public void Sampling_draws_only_tokens_the_warpers_keep()
    {
        // top_k 2 leaves the two bigram candidates: every draw is one of them.
        var options = new GenerationOptions { MaxNewTokens = 30, DoSample = true, Seed = 3, TopK = 2, Temperature = 2.0 };
        var result = TextGenerator.Generate(Bigram, new long[] { 2 }, options, 64);
        long previous = 2;
        foreach (long token in result.NewTokenIds)
        {
            Assert.Contains(token, new[] { (previous * 3 + 1) % Vocab, (previous * 3 + 2) % Vocab });
            previous = token;
        }
    }

    [Theory]
    [InlineData(0, 1.0, 50, 1.0)]
    [InlineData(5, 0.0, 50, 1.0)]
    [InlineData(5, 1.0, -1, 1.0)]
    [InlineData(5, 1.0, 50, -0.1)]
    [InlineData(5, 1.0, 50, 1.5)]
    public void Out_of_range_options_are_LM_errors(int maxNewTokens, double temperature, int topK, double topP)
    {
        var options = new GenerationOptions { MaxNewTokens = maxNewTokens, Temperature = temperature, TopK = topK, TopP = topP, DoSample = true };
        var error = Assert.Throws<LmException>(() => TextGenerator.Generate(Bigram, new long[] { 1 }, options, 64));
        Assert.Equal(ErrorCodes.InvalidOption, error.Code);
    }
}
