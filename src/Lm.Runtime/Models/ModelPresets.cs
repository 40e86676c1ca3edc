using System.Text.Json.Nodes;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Models;

/// <summary>
/// Named configurations: the hub checkpoints' shapes (<c>gpt2</c>, <c>distilgpt2</c>, <c>roberta-base</c>,
/// <c>distilroberta-base</c>, <c>bert-base-uncased</c>, <c>smollm2-135m</c>, <c>qwen2.5-0.5b</c>, <c>llama-3.2-1b</c>,
/// with the values of their config.json) and tiny ones for demos and quick starts that keep a real vocabulary (so a
/// built-in tokenizer fits; GPT-2's for <c>tiny-llama</c> and <c>tiny-qwen2</c>) but are 64 wide and 2 layers deep.
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
        // Test-sized Llama and Qwen2 on GPT-2's vocabulary (no Llama-family tokenizer ships with lm-tune): Llama untied
        // as TinyLlama and Llama 2, Qwen2 tied with q/k/v biases as Qwen2.5-0.5B; grouped-query attention in both.
        ["tiny-llama"] = () => new LlamaConfig
        {
            VocabSize = 50257, HiddenWidth = 64, IntermediateSize = 128, NumHiddenLayers = 2, NumAttentionHeads = 4,
            NumKeyValueHeads = 2, MaxPositionEmbeddings = 256, RmsNormEps = 1e-5, BosTokenId = 50256, EosTokenId = 50256,
        },
        ["tiny-qwen2"] = () => new Qwen2Config
        {
            VocabSize = 50257, HiddenWidth = 64, IntermediateSize = 128, NumHiddenLayers = 2, NumAttentionHeads = 4,
            NumKeyValueHeads = 2, MaxPositionEmbeddings = 256, RopeTheta = 1000000.0, TieWordEmbeddings = true,
            SlidingWindow = 256, MaxWindowLayers = 2, BosTokenId = 50256, EosTokenId = 50256,
        },
        // The hub checkpoints' shapes, from their config.json files.
        ["smollm2-135m"] = () => new LlamaConfig
        {
            VocabSize = 49152, HiddenWidth = 576, IntermediateSize = 1536, NumHiddenLayers = 30, NumAttentionHeads = 9,
            NumKeyValueHeads = 3, HeadDimension = 64, MaxPositionEmbeddings = 8192, RopeTheta = 100000.0, RmsNormEps = 1e-5,
            TieWordEmbeddings = true, BosTokenId = 0, EosTokenId = 0,
        },
        ["qwen2.5-0.5b"] = () => new Qwen2Config
        {
            VocabSize = 151936, HiddenWidth = 896, IntermediateSize = 4864, NumHiddenLayers = 24, NumAttentionHeads = 14,
            NumKeyValueHeads = 2, MaxPositionEmbeddings = 32768, RopeTheta = 1000000.0, RmsNormEps = 1e-6,
            TieWordEmbeddings = true, SlidingWindow = 32768, MaxWindowLayers = 24, BosTokenId = 151643, EosTokenId = 151643,
        },
        ["llama-3.2-1b"] = () => new LlamaConfig
        {
            VocabSize = 128256, HiddenWidth = 2048, IntermediateSize = 8192, NumHiddenLayers = 16, NumAttentionHeads = 32,
            NumKeyValueHeads = 8, HeadDimension = 64, MaxPositionEmbeddings = 131072, RopeTheta = 500000.0, RmsNormEps = 1e-5,
            TieWordEmbeddings = true, BosTokenId = 128000, EosTokenId = 128001,
            // Parsed, not built, so the numbers stay floats (32.0) in config.json as HF writes them.
            RopeScaling = (JsonObject)JsonNode.Parse(
                """{"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0, "original_max_position_embeddings": 8192, "rope_type": "llama3"}""")!,
        },
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
