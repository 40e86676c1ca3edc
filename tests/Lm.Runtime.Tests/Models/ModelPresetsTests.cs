using Lm.Runtime.Errors;
using Lm.Runtime.Models;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Models;

[Collection(TorchRandomCollection.Name)]
public class ModelPresetsTests
{
    [Fact]
    public void Presets_have_the_hub_shapes()
    {
        Assert.Equal(["gpt2", "distilgpt2", "tiny-gpt2", "roberta-base", "distilroberta-base", "tiny-roberta", "bert-base-uncased", "tiny-bert",
            "tiny-llama", "smollm2-135m", "llama-3.2-1b", "tiny-qwen2", "qwen2.5-0.5b"], ModelPresets.Names);
        var distil = Assert.IsType<Gpt2Config>(ModelPresets.Config("distilgpt2"));
        Assert.Equal((6, 768, 12, 1024, 50257), (distil.NLayer, distil.NEmbd, distil.NHead, distil.NPositions, distil.VocabSize));
        Assert.Equal(["GPT2LMHeadModel"], distil.Architectures);
        var roberta = Assert.IsType<RobertaConfig>(ModelPresets.Config("roberta-base"));
        Assert.Equal((12, 514, 1, 1e-5, 50265, 512), (roberta.NumHiddenLayers, roberta.MaxPositionEmbeddings, roberta.TypeVocabSize, roberta.LayerNormEps, roberta.VocabSize, roberta.MaxPositions));
        Assert.Equal(6, ((RobertaConfig)ModelPresets.Config("distilroberta-base")).NumHiddenLayers);
        var bert = Assert.IsType<BertConfig>(ModelPresets.Config("bert-base-uncased"));
        Assert.Equal((12, 512, 2, 1e-12, 30522, 0), (bert.NumHiddenLayers, bert.MaxPositionEmbeddings, bert.TypeVocabSize, bert.LayerNormEps, bert.VocabSize, bert.PadTokenId));
    }

    [Fact]
    public void Tiny_presets_keep_the_real_vocabularies()
    {
        var gpt2 = Assert.IsType<Gpt2Config>(ModelPresets.Config("tiny-gpt2"));
        Assert.Equal((50257, 256, 64, 2, 2), (gpt2.VocabSize, gpt2.NPositions, gpt2.NEmbd, gpt2.NLayer, gpt2.NHead));
        var roberta = Assert.IsType<RobertaConfig>(ModelPresets.Config("tiny-roberta"));
        Assert.Equal((50265, 2, 64, 2, 128, 258, 256), (roberta.VocabSize, roberta.NumHiddenLayers, roberta.HiddenWidth, roberta.NumAttentionHeads, roberta.IntermediateSize, roberta.MaxPositionEmbeddings, roberta.MaxPositions));
        var bert = Assert.IsType<BertConfig>(ModelPresets.Config("tiny-bert"));
        Assert.Equal((30522, 2, 64), (bert.VocabSize, bert.NumHiddenLayers, bert.HiddenWidth));
    }

    [Fact]
    public void Create_builds_a_seeded_model_of_the_preset()
    {
        using var a = ModelPresets.Create("tiny-gpt2", seed: 42);
        using var b = ModelPresets.Create("tiny-gpt2", seed: 42);
        Assert.IsType<Gpt2LMHeadModel>(a);
        // 50257×64 + 256×64 + 2 × (12·64² + 13·64) + 2·64
        Assert.Equal(50257L * 64 + 256 * 64 + 2 * (12L * 64 * 64 + 13 * 64) + 2 * 64, a.ParameterCount());
        Assert.True(a.StateDict()["transformer.h.1.mlp.c_fc.weight"].eq(b.StateDict()["transformer.h.1.mlp.c_fc.weight"]).all().item<bool>());
    }

    [Fact]
    public void An_unknown_preset_lists_the_known_ones()
    {
        var e = Assert.Throws<LmException>(() => ModelPresets.Config("gpt5"));
        Assert.Equal(ErrorCodes.UnknownModelPreset, e.Code);
        Assert.Contains("tiny-gpt2", e.Message);
    }
}
