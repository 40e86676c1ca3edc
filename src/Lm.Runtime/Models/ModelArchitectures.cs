using System.Text.Json.Nodes;
using Lm.Runtime.Errors;
using Lm.Runtime.Tokenization;
using Lm.Schema;

namespace Lm.Runtime.Models;

/// <summary>
/// An architecture as the engine builds it: the names every front end shares (<see cref="ArchitectureTable"/>'s
/// row) plus what only the engine has: the config record, the model factory, the presets' values, the vocabulary a
/// model created from scratch gets, and the checkpoint keys it leaves unused.
/// </summary>
public sealed class ModelArchitecture
{
    internal ModelArchitecture(ArchitectureRow row, Type configType, Func<ModelConfig, bool, LanguageModel> build,
        Func<ModelConfig, LmTokenizer?> defaultTokenizer, IReadOnlyDictionary<string, Func<ModelConfig>> presets,
        Func<string, string, bool> isUnusedCheckpointKey)
    {
        Row = row;
        ConfigType = configType;
        Build = build;
        DefaultTokenizerFor = defaultTokenizer;
        Presets = presets;
        IsUnusedCheckpointKey = isUnusedCheckpointKey;
    }

    internal ArchitectureRow Row { get; }

    /// <summary>HF's <c>model_type</c>.</summary>
    public string ModelType => Row.ModelType;

    /// <summary>HF's language-model class (<c>GPT2LMHeadModel</c>).</summary>
    public string Architecture => Row.Architecture;

    /// <summary><c>clm</c> or <c>mlm</c>.</summary>
    public string Objective => Row.Objective;

    /// <summary>The <see cref="ModelConfig"/> record config.json of this type is read into.</summary>
    public Type ConfigType { get; }

    /// <summary>Builds the model for a config of <see cref="ConfigType"/>; false skips HF's initialisation (weights come next).</summary>
    internal Func<ModelConfig, bool, LanguageModel> Build { get; }

    /// <summary>The embedded vocabulary for a model created from scratch, or null when none fits it.</summary>
    internal Func<ModelConfig, LmTokenizer?> DefaultTokenizerFor { get; }

    /// <summary>The presets' configurations by name (the names are <see cref="ArchitectureRow.Presets"/>).</summary>
    internal IReadOnlyDictionary<string, Func<ModelConfig>> Presets { get; }

    /// <summary>
    /// Checkpoint keys (after the base-model prefix is restored; second argument that prefix) that a model of this
    /// type has no parameter for and loads without a word: buffers older transformers saved and heads of
    /// pre-training checkpoints a language model does not use.
    /// </summary>
    internal Func<string, string, bool> IsUnusedCheckpointKey { get; }
}

/// <summary>
/// The architecture registry: one registration per <c>model_type</c>. Adding a model type is one model file
/// (<c>Models/&lt;Arch&gt;.cs</c> with its config record) plus one registration here and its row in
/// <c>src/Shared/Models/ArchitectureTable.cs</c> (names the generator and the build read too); config parsing,
/// model building, presets, the objective, built-in vocabularies, the tokenizer class a config implies and the
/// checkpoint key rules all read it.
/// </summary>
public static class ModelArchitectures
{
    /// <summary>Every architecture, in <see cref="ArchitectureTable"/>'s order.</summary>
    public static IReadOnlyList<ModelArchitecture> All { get; } =
    [
        Register<Gpt2Config>("gpt2", (config, initialize) => new Gpt2LMHeadModel(config, initialize), _ => LmTokenizer.Gpt2(),
            new()
            {
                ["gpt2"] = () => new Gpt2Config(),
                ["distilgpt2"] = () => new Gpt2Config { NLayer = 6 },
                ["tiny-gpt2"] = () => new Gpt2Config { NPositions = 256, NEmbd = 64, NLayer = 2, NHead = 2 },
            },
            // GPT-2's causal-mask buffers, persistent in transformers before 4.31.
            unused: (key, _) => key.EndsWith(".attn.bias", StringComparison.Ordinal) || key.EndsWith(".attn.masked_bias", StringComparison.Ordinal)),
        Register<RobertaConfig>("roberta", (config, initialize) => new RobertaForMaskedLM(config, initialize), _ => LmTokenizer.RobertaFromGpt2(),
            new()
            {
                ["roberta-base"] = () => RobertaHub(layers: 12),
                ["distilroberta-base"] = () => RobertaHub(layers: 6),
                ["tiny-roberta"] = () => RobertaHub(layers: 2) with
                {
                    HiddenWidth = 64, NumAttentionHeads = 2, IntermediateSize = 128, MaxPositionEmbeddings = 258,
                },
            },
            unused: UnusedByMaskedLm),
        // No BERT vocabulary ships with lm-tune: a BERT created from scratch needs tokenizer_name.
        Register<BertConfig>("bert", (config, initialize) => new BertForMaskedLM(config, initialize), _ => null,
            new()
            {
                ["bert-base-uncased"] = () => new BertConfig(),
                ["tiny-bert"] = () => new BertConfig { HiddenWidth = 64, NumHiddenLayers = 2, NumAttentionHeads = 2, IntermediateSize = 128 },
            },
            unused: UnusedByMaskedLm),
        Register<LlamaConfig>("llama", (config, initialize) => new LlamaForCausalLM(config, initialize), Gpt2WhenItFits,
            new()
            {
                // Test-sized Llama on GPT-2's vocabulary (no Llama-family tokenizer ships with lm-tune), untied as
                // TinyLlama and Llama 2, grouped-query attention.
                ["tiny-llama"] = () => new LlamaConfig
                {
                    VocabSize = 50257, HiddenWidth = 64, IntermediateSize = 128, NumHiddenLayers = 2, NumAttentionHeads = 4,
                    NumKeyValueHeads = 2, MaxPositionEmbeddings = 256, RmsNormEps = 1e-5, BosTokenId = 50256, EosTokenId = 50256,
                },
                // The hub checkpoints' shapes, from their config.json files.
                ["smollm2-135m"] = () => new LlamaConfig
                {
                    VocabSize = 49152, HiddenWidth = 576, IntermediateSize = 1536, NumHiddenLayers = 30, NumAttentionHeads = 9,
                    NumKeyValueHeads = 3, HeadDimension = 64, MaxPositionEmbeddings = 8192, RopeTheta = 100000.0, RmsNormEps = 1e-5,
                    TieWordEmbeddings = true, BosTokenId = 0, EosTokenId = 0,
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
            },
            unused: UnusedByLlamaFamily),
        Register<Qwen2Config>("qwen2", (config, initialize) => new LlamaForCausalLM(config, initialize), Gpt2WhenItFits,
            new()
            {
                // Test-sized Qwen2 on GPT-2's vocabulary, tied with q/k/v biases as Qwen2.5-0.5B.
                ["tiny-qwen2"] = () => new Qwen2Config
                {
                    VocabSize = 50257, HiddenWidth = 64, IntermediateSize = 128, NumHiddenLayers = 2, NumAttentionHeads = 4,
                    NumKeyValueHeads = 2, MaxPositionEmbeddings = 256, RopeTheta = 1000000.0, TieWordEmbeddings = true,
                    SlidingWindow = 256, MaxWindowLayers = 2, BosTokenId = 50256, EosTokenId = 50256,
                },
                ["qwen2.5-0.5b"] = () => new Qwen2Config
                {
                    VocabSize = 151936, HiddenWidth = 896, IntermediateSize = 4864, NumHiddenLayers = 24, NumAttentionHeads = 14,
                    NumKeyValueHeads = 2, MaxPositionEmbeddings = 32768, RopeTheta = 1000000.0, RmsNormEps = 1e-6,
                    TieWordEmbeddings = true, SlidingWindow = 32768, MaxWindowLayers = 24, BosTokenId = 151643, EosTokenId = 151643,
                },
            },
            unused: UnusedByLlamaFamily),
        Register<MistralConfig>("mistral", (config, initialize) => new LlamaForCausalLM(config, initialize), Gpt2WhenItFits,
            new(), unused: UnusedByLlamaFamily),
    ];

    private static readonly Dictionary<string, ModelArchitecture> ByModelType = All.ToDictionary(a => a.ModelType, StringComparer.Ordinal);

    /// <summary>The architecture of a <c>model_type</c>, or null when lm-tune does not implement it.</summary>
    public static ModelArchitecture? Find(string? modelType) =>
        modelType is not null && ByModelType.TryGetValue(modelType, out var architecture) ? architecture : null;

    /// <summary>The architecture of <paramref name="config"/>; LM0101 for a config type nobody registered.</summary>
    public static ModelArchitecture For(ModelConfig config) =>
        Find(config.ModelType) is { } architecture && architecture.ConfigType == config.GetType()
            ? architecture
            : throw new LmException(ErrorCodes.UnsupportedModelType,
                $"model_type '{config.ModelType}' is not supported; supported model types: {string.Join(", ", ModelConfig.SupportedModelTypes)}.");

    private static ModelArchitecture Register<TConfig>(string modelType, Func<TConfig, bool, LanguageModel> build,
        Func<ModelConfig, LmTokenizer?> defaultTokenizer, Dictionary<string, Func<ModelConfig>> presets, Func<string, string, bool> unused)
        where TConfig : ModelConfig
    {
        var row = ArchitectureTable.Find(modelType)
            ?? throw new InvalidOperationException($"model_type '{modelType}' has no row in src/Shared/Models/ArchitectureTable.cs");
        return new ModelArchitecture(row, typeof(TConfig), (config, initialize) => build((TConfig)config, initialize), defaultTokenizer,
            presets, unused);
    }

    // No Llama-family vocabulary ships with lm-tune; GPT-2's fits any embedding with at least its 50,257 rows
    // (the rows beyond it are a padded vocabulary, as Qwen2's 151,936 rows are beyond its tokenizer).
    private static LmTokenizer? Gpt2WhenItFits(ModelConfig config) => config.VocabSize >= 50257 ? LmTokenizer.Gpt2() : null;

    // Masked-LM models are built without the pooler; BERT's pre-training checkpoints also carry the NSP head.
    private static bool UnusedByMaskedLm(string key, string basePrefix) =>
        key.StartsWith(basePrefix + ".pooler.", StringComparison.Ordinal)
        || key.StartsWith("cls.seq_relationship.", StringComparison.Ordinal)
        || key.EndsWith(".token_type_ids", StringComparison.Ordinal);

    // Llama checkpoints saved before transformers 4.31 carry the rotary buffer, recomputed on load since.
    private static bool UnusedByLlamaFamily(string key, string basePrefix) => key.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal);

    // roberta-base's config.json: 514 positions (512 + padding offset), one token type, LayerNorm eps 1e-5.
    private static RobertaConfig RobertaHub(int layers) => new()
    {
        NumHiddenLayers = layers, MaxPositionEmbeddings = 514, TypeVocabSize = 1, LayerNormEps = 1e-5,
    };
}
