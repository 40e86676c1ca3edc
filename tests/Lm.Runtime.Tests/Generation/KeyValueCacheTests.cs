using Lm.Runtime.Generation;
using Lm.Runtime.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Generation;

[Collection(TorchRandomCollection.Name)]
public sealed class KeyValueCacheTests
{
    // Wide initial weights give logits with clear maxima, so greedy choices are not decided by rounding.
    public static TheoryData<string> Models => ["gpt2", "llama", "qwen2", "mistral-window"];

    private static LanguageModel Build(string kind)
    {
        torch.manual_seed(11);
        LanguageModel model = kind switch
        {
            "gpt2" => new Gpt2LMHeadModel(new Gpt2Config { VocabSize = 101, NPositions = 64, NEmbd = 32, NLayer = 2, NHead = 2, InitializerRange = 0.2 }),
            "llama" => new LlamaForCausalLM(new LlamaConfig
            {
                VocabSize = 101, HiddenWidth = 32, IntermediateSize = 48, NumHiddenLayers = 2, NumAttentionHeads = 4,
                NumKeyValueHeads = 2, MaxPositionEmbeddings = 64, InitializerRange = 0.2,
            }),
            "qwen2" => new LlamaForCausalLM(new Qwen2Config
            {
                VocabSize = 101, HiddenWidth = 32, IntermediateSize = 48, NumHiddenLayers = 2, NumAttentionHeads = 4,
                NumKeyValueHeads = 1, MaxPositionEmbeddings = 64, TieWordEmbeddings = true, InitializerRange = 0.2,
            }),
            // A window of 3 that the sequence soon outgrows: cached keys beyond it must stay hidden.
            _ => new LlamaForCausalLM(new MistralConfig
            {
                VocabSize = 101, HiddenWidth = 32, IntermediateSize = 48, NumHiddenLayers = 2, NumAttentionHeads = 4,
                NumKeyValueHeads = 2, MaxPositionEmbeddings = 64, SlidingWindow = 3, InitializerRange = 0.2,
            }),
        };
        model.eval();
        return model;
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Greedy_generation_with_the_cache_picks_the_same_tokens_as_without(string kind)
    {
        using var model = Build(kind);
        var options = new GenerationOptions { MaxNewTokens = 16 };
        long[] prompt = [5, 42, 7, 99, 3];
        var cached = TextGenerator.Generate(model, prompt, options, useCache: true);
        var recomputed = TextGenerator.Generate(model, prompt, options, useCache: false);
        Assert.Equal(16, cached.NewTokenIds.Count);
        Assert.Equal(recomputed.NewTokenIds, cached.NewTokenIds);
        // Not a degenerate repetition of one token: the comparison covers varied steps.
        Assert.True(cached.NewTokenIds.Distinct().Count() > 2, string.Join(",", cached.NewTokenIds));
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Prefill_then_chunks_give_the_logits_of_one_full_pass(string kind)
    {
        using var model = Build(kind);
        long[] ids = [5, 42, 7, 99, 3, 18, 64, 2, 77, 31];
        using var noGrad = no_grad();
        using var all = tensor(ids).unsqueeze(0);
        var expected = model.Forward(all).Logits;

        using var cache = new KeyValueCache(model.Config.LayerCount);
        var parts = new List<Tensor>();
        // A prefill of 4, one token, a chunk of 3 (several new tokens after cached ones), then the last two one by one.
        foreach (var (start, length) in new[] { (0, 4), (4, 1), (5, 3), (8, 1), (9, 1) })
        {
            parts.Add(model.Forward(all[.., start..(start + length)], null, cache).Logits);
            Assert.Equal(start + length, cache.Length);
        }
        var actual = cat(parts, dim: 1);
        double difference = expected.sub(actual).abs().max().item<float>();
        Assert.True(difference < 1e-5, $"max difference {difference}");
    }

    [Fact]
    public void Masked_language_models_generate_without_a_cache()
    {
        torch.manual_seed(1);
        using var model = new RobertaForMaskedLM(new RobertaConfig
        {
            VocabSize = 101, HiddenWidth = 32, NumHiddenLayers = 1, NumAttentionHeads = 2, IntermediateSize = 64, MaxPositionEmbeddings = 66,
        });
        Assert.False(model.SupportsKeyValueCache);
        using var cache = new KeyValueCache(1);
        using var ids = tensor(new long[] { 0, 5 }).unsqueeze(0);
        Assert.Throws<NotSupportedException>(() => model.Forward(ids, null, cache));
    }
}
