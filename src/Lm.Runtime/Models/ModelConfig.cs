using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Lm.Runtime.Checkpoints;
using Lm.Runtime.Errors;
using Lm.Runtime.Files;

namespace Lm.Runtime.Models;

/// <summary>
/// A model's configuration as Hugging Face's <c>config.json</c> holds it: snake_case names, HF's defaults for keys
/// the file leaves out, and every key lm-tune does not model kept as read, so that reading and writing a config
/// loses nothing. <see cref="Parse(string, string?)"/> picks the concrete type from <c>model_type</c>.
/// </summary>
public abstract record ModelConfig
{
    /// <summary>The <c>transformers_version</c> lm-tune writes: the release whose semantics the models follow.</summary>
    public const string HfTransformersVersion = "4.46.3";

    /// <summary>The <c>model_type</c> values lm-tune implements.</summary>
    public static IReadOnlyList<string> SupportedModelTypes { get; } = Lm.Schema.ArchitectureTable.ModelTypes;

    /// <summary>HF's <c>model_type</c>: <c>gpt2</c>, <c>roberta</c>, <c>bert</c>, <c>llama</c>, <c>qwen2</c> or <c>mistral</c>.</summary>
    [JsonPropertyName("model_type")]
    public abstract string ModelType { get; }

    /// <summary>Model class names, e.g. <c>["GPT2LMHeadModel"]</c>; saving a model sets it.</summary>
    [JsonPropertyName("architectures")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? Architectures { get; init; }

    /// <summary>The dtype the weights were saved in (<c>float32</c>, <c>bfloat16</c>, …), HF's <c>torch_dtype</c>.</summary>
    [JsonPropertyName("torch_dtype")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? TorchDtype { get; init; }

    /// <summary>The transformers release that wrote the file.</summary>
    [JsonPropertyName("transformers_version")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? TransformersVersion { get; init; }

    /// <summary>HF's <c>tie_word_embeddings</c>; absent means the class default (true for GPT-2, RoBERTa and BERT,
    /// which lm-tune always ties; false for the Llama family).</summary>
    [JsonPropertyName("tie_word_embeddings")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? TieWordEmbeddings { get; init; }

    /// <summary>HF's <c>vocab_size</c>.</summary>
    [JsonPropertyName("vocab_size")]
    public int VocabSize { get; init; }

    /// <summary>HF's <c>initializer_range</c>: the standard deviation of the normal initialisation.</summary>
    [JsonPropertyName("initializer_range")]
    public double InitializerRange { get; init; } = 0.02;

    /// <summary>Keys of the file that no property models, kept as read and written back unchanged.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? OtherKeys { get; init; }

    /// <summary>Longest sequence the position embeddings allow (n_positions, or max_position_embeddings less RoBERTa's offset).</summary>
    [JsonIgnore]
    public abstract int MaxPositions { get; }

    /// <summary>Width of the hidden states.</summary>
    [JsonIgnore]
    public abstract int HiddenSize { get; }

    /// <summary>Number of transformer blocks.</summary>
    [JsonIgnore]
    public abstract int LayerCount { get; }

    /// <summary>Number of attention heads per block.</summary>
    [JsonIgnore]
    public abstract int HeadCount { get; }

    /// <summary>The HF class name of the language-model head this config builds (<c>GPT2LMHeadModel</c>, …).</summary>
    [JsonIgnore]
    public abstract string ArchitectureName { get; }

    /// <summary>Throws <see cref="LmException"/> (LM0102) when the values cannot make a model.</summary>
    public virtual void Validate()
    {
        Require(VocabSize > 0, "vocab_size must be positive");
        Require(HiddenSize > 0, "the hidden size must be positive");
        Require(LayerCount > 0, "the number of layers must be positive");
        Require(HeadCount > 0 && (!HeadsMustDivideHidden || HiddenSize % HeadCount == 0),
            $"the hidden size ({HiddenSize}) must be a multiple of the number of attention heads ({HeadCount})");
        Require(MaxPositions > 0, "the number of positions must be positive");
        Require(InitializerRange >= 0, "initializer_range must not be negative");
        Require(SupportsUntiedEmbeddings || TieWordEmbeddings != false,
            "tie_word_embeddings=false is not supported: lm-tune's language-model heads share the input embedding");
        Bound(LayerCount <= MaxLayers, $"{LayerCount} layers are more than the {MaxLayers} lm-tune builds");
        try
        {
            _ = ParameterCount();
        }
        catch (OverflowException)
        {
            throw new LmException(ErrorCodes.ModelConfigOutOfBounds,
                $"Invalid {ModelType} config: the sizes (vocab_size {VocabSize}, hidden size {HiddenSize}, {LayerCount} layers, " +
                $"{MaxPositions} positions) give more parameters than a 64-bit count holds.");
        }
    }

    /// <summary>False when the config sets the head width itself (Llama's <c>head_dim</c>), so heads need not divide the hidden size.</summary>
    protected virtual bool HeadsMustDivideHidden => true;

    /// <summary>True for architectures with a separate <c>lm_head.weight</c> when <c>tie_word_embeddings</c> is false.</summary>
    protected virtual bool SupportsUntiedEmbeddings => false;

    /// <summary>
    /// More blocks than any published checkpoint has by an order of magnitude: building a million tiny blocks takes
    /// hours while their weights would fit in memory, so the layer count has a bound of its own.
    /// </summary>
    public const int MaxLayers = 1024;

    /// <summary>
    /// The number of parameters the architecture has for this config, computed with checked arithmetic (an
    /// <see cref="OverflowException"/> for absurd sizes) and without building anything; tied weights count once,
    /// as <see cref="LanguageModel.ParameterCount"/> does.
    /// </summary>
    public abstract long ParameterCount();

    /// <summary>Throws LM0121 naming the config when a size is beyond what lm-tune builds.</summary>
    protected void Bound(bool condition, string message)
    {
        if (!condition) throw new LmException(ErrorCodes.ModelConfigOutOfBounds, $"Invalid {ModelType} config: {message}.");
    }

    /// <summary>Throws LM0102 naming the config when <paramref name="condition"/> is false.</summary>
    protected void Require(bool condition, string message)
    {
        if (!condition) throw new LmException(ErrorCodes.InvalidModelConfig, $"Invalid {ModelType} config: {message}.");
    }

    /// <summary>Reads a config.json file.</summary>
    public static ModelConfig Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LmException(ErrorCodes.ModelFolderUnreadable, $"Cannot read {path}: {e.Message}", e) { File = path };
        }
        return Parse(text, path);
    }

    /// <summary>Parses config.json text; the concrete record type follows <c>model_type</c>.</summary>
    public static ModelConfig Parse(string json, string? path = null)
    {
        try
        {
            return ParseConfig(json, path);
        }
        catch (InvalidOperationException e)
        {
            // System.Text.Json reads a key or string with an unpaired "\ud800" escape (valid JSON, no .NET string) this way.
            throw new LmException(ErrorCodes.InvalidModelConfig,
                $"{path ?? "config.json"}: a key or string holds an unpaired UTF-16 surrogate escape ({e.Message})", e) { File = path };
        }
    }

    private static ModelConfig ParseConfig(string json, string? path)
    {
        string where = path ?? "config.json";
        JsonObject root;
        try
        {
            // A repeated key would otherwise throw ArgumentException when the object is first read: reject it here as
            // bad JSON. Checking for repeats reads every key, so a key with an unpaired "\ud800" escape throws here too.
            root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false }) as JsonObject
                ?? throw new LmException(ErrorCodes.InvalidModelConfig, $"{where} is not a JSON object.") { File = path };
        }
        catch (JsonException e)
        {
            throw new LmException(ErrorCodes.InvalidModelConfig, $"{where} is not valid JSON: {e.Message}", e)
            {
                File = path, Line = e.LineNumber is long line ? (int)line + 1 : null,
            };
        }
        JsonFields.RequireText(root, where, ErrorCodes.InvalidModelConfig);
        string? modelType = root["model_type"] is JsonValue v && v.TryGetValue(out string? s) ? s : null;
        Type type = ModelArchitectures.Find(modelType)?.ConfigType ?? modelType switch
        {
            null => throw new LmException(ErrorCodes.UnsupportedModelType,
                $"{where} has no model_type; supported model types: {string.Join(", ", SupportedModelTypes)}.") { File = path },
            _ => throw new LmException(ErrorCodes.UnsupportedModelType,
                $"{where}: model_type '{modelType}' is not supported; supported model types: {string.Join(", ", SupportedModelTypes)}.")
            { File = path },
        };
        ModelConfig config;
        try
        {
            config = (ModelConfig)root.Deserialize(type, SerializerOptions)!;
        }
        catch (JsonException e)
        {
            throw new LmException(ErrorCodes.InvalidModelConfig,
                $"{where}: the value at {e.Path} has the wrong type for a {modelType} config ({e.Message}).", e) { File = path };
        }
        config.Validate();
        return config;
    }

    /// <summary>
    /// The config.json text HF's <c>save_pretrained</c> would write for this config: sorted keys, two-space indent,
    /// Python number formatting, a final newline.
    /// </summary>
    public string ToJson()
    {
        JsonObject node = JsonSerializer.SerializeToNode(this, GetType(), SerializerOptions)!.AsObject();
        // transformers >= 4.56 names the dtype key "dtype"; keep whichever name the file came with.
        if (node.ContainsKey("dtype") && node["torch_dtype"] is JsonNode dtype)
        {
            node.Remove("torch_dtype");
            node["dtype"] = dtype.DeepClone();
        }
        return PythonJson.Serialize(node) + "\n";
    }

    /// <summary>Writes <see cref="ToJson"/> to <paramref name="path"/>.</summary>
    public void Save(string path) => File.WriteAllText(path, ToJson());

    private static readonly JsonSerializerOptions SerializerOptions = new()
    {
        Converters = { new PythonFloatConverter() },
        TypeInfoResolver = new DefaultJsonTypeInfoResolver { Modifiers = { OnlyHfKeys } },
    };

    /// <summary>Only properties named after an HF key are config.json content; derived helpers are not.</summary>
    private static void OnlyHfKeys(JsonTypeInfo info)
    {
        if (info.Kind != JsonTypeInfoKind.Object) return;
        for (int i = info.Properties.Count - 1; i >= 0; i--)
        {
            var provider = info.Properties[i].AttributeProvider;
            bool named = provider?.IsDefined(typeof(JsonPropertyNameAttribute), inherit: true) == true;
            if (!named && !info.Properties[i].IsExtensionData) info.Properties.RemoveAt(i);
        }
    }

    /// <summary>Writes doubles as Python floats (<c>0.1</c>, <c>1e-05</c>, <c>1.0</c>) so the writer can tell them from ints.</summary>
    private sealed class PythonFloatConverter : JsonConverter<double>
    {
        public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            // 1e905 reads as infinity, which no size or rate can be and which Write could not put back as JSON.
            double value = reader.GetDouble();
            return double.IsFinite(value) ? value : throw new JsonException($"{value} is not a finite number");
        }

        public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options) =>
            writer.WriteRawValue(PythonJson.FormatFloat(value));
    }
}
