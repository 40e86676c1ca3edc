using Lm.Runtime.Errors;
using Lm.Runtime.Generation;
using Lm.Runtime.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Generation;

[Collection(TorchRandomCollection.Name)]
public sealed class BatchGenerationTests
{
    public static TheoryData<string, bool> ModelsAndCache => new()
    {
        { "gpt2", true }, { "gpt2", false }, { "llama", true }, { "llama", false }, { "gpt2-eager", true },
    };

    // Prompts of 5, 2 and 8 tokens: the first two are left-padded in the batch, by 3 and 6.
    private static readonly long[][] Prompts = [[5, 42, 7, 99, 3], [64, 2], [18, 77, 31, 9, 50, 12, 1, 8]];

    private static LanguageModel Build(string kind)
    {
        torch.manual_seed(11);
        // Wide initial weights give logits with clear maxima, so padding's rounding cannot change a greedy choice.
        LanguageModel model = kind switch
        {
            "gpt2" => new Gpt2LMHeadModel(new Gpt2Config { VocabSize = 101, NPositions = 64, NEmbd = 32, NLayer = 2, NHead = 2, InitializerRange = 0.2 }),
            // reorder_and_upcast_attn takes HF's eager attention path, with its own causal and padding masks.
            "gpt2-eager" => new Gpt2LMHeadModel(new Gpt2Config
            {
                VocabSize = 101, NPositions = 64, NEmbd = 32, NLayer = 2, NHead = 2, InitializerRange = 0.2, ReorderAndUpcastAttn = true,
            }),
            _ => new LlamaForCausalLM(new LlamaConfig
            {
                VocabSize = 101, HiddenWidth = 32, IntermediateSize = 48, NumHiddenLayers = 2, NumAttentionHeads = 4,
                NumKeyValueHeads = 2, MaxPositionEmbeddings = 64, InitializerRange = 0.2,
            }),
        };
        model.eval();
        return model;
    }

    [Theory]
    [MemberData(nameof(ModelsAndCache))]
    public void Each_prompt_of_a_left_padded_batch_gets_the_greedy_ids_it_gets_alone(string kind, bool useCache)
    {
        using var model = Build(kind);
        var options = new GenerationOptions { MaxNewTokens = 12, PadTokenId = 0 };
        var batch = TextGenerator.GenerateBatch(model, Prompts, options, useCache);
        Assert.Equal(Prompts.Length, batch.Count);
        for (int i = 0; i < Prompts.Length; i++)
        {
            var alone = TextGenerator.Generate(model, Prompts[i], options, useCache);
            Assert.Equal(alone.NewTokenIds, batch[i].NewTokenIds);
            Assert.Equal(12, batch[i].NewTokenIds.Count);
            Assert.Equal(GenerationResult.StopMaxNewTokens, batch[i].StopReason);
        }
        // Different prompts continue differently: the rows are not one prompt's output copied.
        Assert.NotEqual(batch[0].NewTokenIds, batch[1].NewTokenIds);
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void A_row_that_reaches_eos_stops_there_while_the_others_go_on(string kind)
    {
        using var model = Build(kind);
        var free = TextGenerator.GenerateBatch(model, Prompts, new GenerationOptions { MaxNewTokens = 10, PadTokenId = 0 });
        // The end of sequence: a token the short prompt's row produces (first at some step before the last) and no other row.
        var others = free[0].NewTokenIds.Concat(free[2].NewTokenIds).ToHashSet();
        int step = Enumerable.Range(0, 9).First(s => !others.Contains(free[1].NewTokenIds[s]) && !free[1].NewTokenIds.Take(s).Contains(free[1].NewTokenIds[s]));
        long eos = free[1].NewTokenIds[step];
        var options = new GenerationOptions { MaxNewTokens = 10, EosTokenIds = [eos], PadTokenId = 0 };
        var stopped = TextGenerator.GenerateBatch(model, Prompts, options);
        Assert.Equal(free[1].NewTokenIds.Take(step + 1), stopped[1].NewTokenIds);
        Assert.Equal(GenerationResult.StopEos, stopped[1].StopReason);
        // The others go on as before: the finished row's pad tokens change nothing for them.
        Assert.Equal(free[0].NewTokenIds, stopped[0].NewTokenIds);
        Assert.Equal(free[2].NewTokenIds, stopped[2].NewTokenIds);
        Assert.Equal(GenerationResult.StopMaxNewTokens, stopped[0].StopReason);
    }

    [Fact]
    public void Position_ids_count_real_tokens_from_zero_and_put_padding_at_one()
    {
        using var mask = tensor(new long[,] { { 0, 0, 1, 1, 1 }, { 1, 1, 1, 1, 1 }, { 0, 0, 0, 0, 1 } });
        using var positions = TextGenerator.PositionIds(mask);
        Assert.Equal(new long[] { 1, 1, 0, 1, 2, 0, 1, 2, 3, 4, 1, 1, 1, 1, 0 }, positions.data<long>().ToArray());
    }

    [Fact]
    public void Seeded_sampling_with_every_processor_repeats_and_the_cache_draws_the_same()
    {
        using var model = Build("llama");
        var options = new GenerationOptions
        {
            MaxNewTokens = 16, DoSample = true, Seed = 1234, Temperature = 0.8, TopK = 20, TopP = 0.9, RepetitionPenalty = 1.3, PadTokenId = 0,
        };
        var first = TextGenerator.GenerateBatch(model, Prompts, options);
        var second = TextGenerator.GenerateBatch(model, Prompts, options);
        var recomputed = TextGenerator.GenerateBatch(model, Prompts, options, useCache: false);
        var otherSeed = TextGenerator.GenerateBatch(model, Prompts, options with { Seed = 99 });
        for (int i = 0; i < Prompts.Length; i++)
        {
            Assert.Equal(first[i].NewTokenIds, second[i].NewTokenIds);
            Assert.Equal(first[i].NewTokenIds, recomputed[i].NewTokenIds);
        }
        Assert.NotEqual(first.SelectMany(r => r.NewTokenIds), otherSeed.SelectMany(r => r.NewTokenIds));
    }

    [Fact]
    public void Sampling_draws_what_an_independent_loop_draws_from_the_processed_scores()
    {
        // HF's _sample on a batch: one multinomial over [batch, vocab] per step after penalty, temperature, top-k, top-p.
        using var model = Build("gpt2");
        var options = new GenerationOptions { MaxNewTokens = 6, DoSample = true, Seed = 77, Temperature = 0.7, TopK = 10, TopP = 0.8, RepetitionPenalty = 1.5 };
        long[][] prompts = [[5, 42, 7], [9, 8, 7]];
        var sampled = TextGenerator.GenerateBatch(model, prompts, options);

        var rows = prompts.Select(p => p.ToList()).ToArray();
        using var generator = new torch.Generator(77);
        using var noGrad = no_grad();
        for (int step = 0; step < 6; step++)
        {
            using var scope = NewDisposeScope();
            var ids = tensor(rows.SelectMany(r => r).ToArray(), [2, rows[0].Count]);
            var logits = model.Forward(ids).Logits[.., ^1, ..].to(ScalarType.Float32);
            var probabilities = zeros(2, 101);
            for (int row = 0; row < 2; row++)
            {
                double[] scores = logits[row].data<float>().Select(v => (double)v).ToArray();
                foreach (long seen in rows[row].Distinct()) scores[seen] = scores[seen] < 0 ? scores[seen] * 1.5 : scores[seen] / 1.5;
                for (int v = 0; v < scores.Length; v++) scores[v] /= 0.7;
                double kth = scores.OrderByDescending(s => s).ElementAt(9);
                for (int v = 0; v < scores.Length; v++) if (scores[v] < kth) scores[v] = double.NegativeInfinity;
                double max = scores.Max(), total = scores.Sum(s => Math.Exp(s - max));
                double[] p = scores.Select(s => Math.Exp(s - max) / total).ToArray();
                int[] ascending = Enumerable.Range(0, p.Length).OrderBy(v => scores[v]).ToArray();
                double cumulative = 0;
                for (int rank = 0; rank < ascending.Length - 1; rank++)
                {
                    cumulative += p[ascending[rank]];
                    if (cumulative <= 1 - 0.8) p[ascending[rank]] = 0;
                }
                double kept = p.Sum();
                for (int v = 0; v < p.Length; v++) probabilities[row, v] = tensor((float)(p[v] / kept));
            }
            long[] drawn = multinomial(probabilities, 1, generator: generator).data<long>().ToArray();
            for (int row = 0; row < 2; row++) rows[row].Add(drawn[row]);
        }
        Assert.Equal(rows[0].Skip(3), sampled[0].NewTokenIds);
        Assert.Equal(rows[1].Skip(3), sampled[1].NewTokenIds);
    }

    [Fact]
    public void Max_length_counts_the_padded_prompt_and_a_prompt_that_reaches_it_is_LM0170()
    {
        using var model = Build("gpt2");
        var results = TextGenerator.GenerateBatch(model, Prompts, new GenerationOptions { MaxLength = 11, PadTokenId = 0 });
        // The longest prompt has 8 tokens, so every row gets 11 - 8 = 3.
        Assert.All(results, r => Assert.Equal(3, r.NewTokenIds.Count));
        Assert.All(results, r => Assert.Equal(GenerationResult.StopMaxLength, r.StopReason));
        var error = Assert.Throws<LmException>(() => TextGenerator.GenerateBatch(model, Prompts, new GenerationOptions { MaxLength = 8, PadTokenId = 0 }));
        Assert.Equal(ErrorCodes.PromptReachesMaxLength, error.Code);
    }

    [Fact]
    public void Prompts_of_different_lengths_without_pad_or_eos_are_LM0171()
    {
        using var model = Build("gpt2");
        var error = Assert.Throws<LmException>(() => TextGenerator.GenerateBatch(model, Prompts, new GenerationOptions { MaxNewTokens = 2 }));
        Assert.Equal(ErrorCodes.NoPadTokenForBatch, error.Code);
        // Equal lengths need no padding; the first eos id pads when there is no pad id.
        Assert.Equal(2, TextGenerator.GenerateBatch(model, [[1, 2], [3, 4]], new GenerationOptions { MaxNewTokens = 2 }).Count);
        Assert.Equal(3, TextGenerator.GenerateBatch(model, Prompts, new GenerationOptions { MaxNewTokens = 2, EosTokenIds = [100] }).Count);
    }
}
