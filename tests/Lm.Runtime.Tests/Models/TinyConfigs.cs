using Lm.Runtime.Models;

namespace Lm.Runtime.Tests.Models;

/// <summary>Small shapes that keep model tests fast: vocabulary 1000, width 32, two layers, two heads.</summary>
internal static class TinyConfigs
{
    public static Gpt2Config Gpt2() => new() { VocabSize = 1000, NPositions = 64, NEmbd = 32, NLayer = 2, NHead = 2 };

    public static RobertaConfig Roberta() => new()
    {
        VocabSize = 1000, HiddenWidth = 32, NumHiddenLayers = 2, NumAttentionHeads = 2, IntermediateSize = 64,
        MaxPositionEmbeddings = 66, TypeVocabSize = 1, LayerNormEps = 1e-5,
    };

    public static BertConfig Bert() => new()
    {
        VocabSize = 1000, HiddenWidth = 32, NumHiddenLayers = 2, NumAttentionHeads = 2, IntermediateSize = 64,
        MaxPositionEmbeddings = 64,
    };
}
