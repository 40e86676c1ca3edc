using Lm.Runtime.Errors;

namespace Lm.Runtime.Models;

/// <summary>
/// Named configurations: the hub checkpoints' shapes (<c>gpt2</c>, <c>distilgpt2</c>, <c>roberta-base</c>,
/// <c>distilroberta-base</c>, <c>bert-base-uncased</c>, with the values of their config.json) and tiny ones for demos
/// and quick starts that keep the real vocabularies (so the real tokenizers fit) but are 64 wide and 2 layers deep.
/// </summary>
public static class ModelPresets
{
    private static readonly Dictionary<string, Func<ModelConfig>> Presets = new(StringComparer.OrdinalIgnoreCase)
    {
        ["gpt2"] = () => new Gpt2Config(),
        ["distilgpt2"] = () => new Gpt2Config { NLayer = 6 },
        ["tiny-gpt2"] = () => new Gpt2Config { NPositions = 256, NEmbd = 64, NLayer = 2, NHead = 2 },
        ["roberta-base"] = () => RobertaHub(layers: 12),
        ["distilroberta-base"] = () => RobertaHub(layers: 6),
        ["tiny-roberta"] = () => RobertaHub(layers: 2) with
        {
            HiddenWidth = 64, NumAttentionHeads = 2, IntermediateSize = 128, MaxPositionEmbeddings = 258,
        },
        ["bert-base-uncased"] = () => new BertConfig(),
        ["tiny-bert"] = () => new BertConfig { HiddenWidth = 64, NumHiddenLayers = 2, NumAttentionHeads = 2, IntermediateSize = 128 },
    };

    /// <summary>The preset names.</summary>
    public static IReadOnlyList<string> Names { get; } = Presets.Keys.ToArray();

    /// <summary>True when <paramref name="name"/> is a preset.</summary>
    public static bool Contains(string name) => Presets.ContainsKey(name);

    /// <summary>The configuration named <paramref name="name"/> (with <c>architectures</c> set); LM0112 when there is none.</summary>
    public static ModelConfig Config(string name)
    {
        if (!Presets.TryGetValue(name, out var create))
            throw new LmException(ErrorCodes.UnknownModelPreset,
                $"There is no model preset '{name}'; presets: {string.Join(", ", Names)}.");
        var config = create();
        return config with { Architectures = [config.ArchitectureName] };
    }

    /// <summary>A randomly initialised model (HF's initialisation) of the preset, seeded when asked.</summary>
    public static LanguageModel Create(string name, long? seed = null) => LanguageModel.Create(Config(name), seed);

    // roberta-base's config.json: 514 positions (512 + padding offset), one token type, LayerNorm eps 1e-5.
    private static RobertaConfig RobertaHub(int layers) => new()
    {
        NumHiddenLayers = layers, MaxPositionEmbeddings = 514, TypeVocabSize = 1, LayerNormEps = 1e-5,
    };
}
