using System.Text.Json.Nodes;
using Lm.Runtime.Checkpoints;
using Lm.Runtime.Errors;
using Lm.Runtime.Files;

namespace Lm.Runtime.Models.Lora;

/// <summary>
/// PEFT's <c>LoraConfig</c> (peft/tuners/lora/config.py), the part lm-tune implements: rank, alpha, dropout, which
/// modules get adapters and which are trained in full, rsLoRA scaling and GPT-2's transposed Conv1D weights. It is
/// written as <c>adapter_config.json</c> with every field PEFT 0.17 writes (defaults for the features lm-tune does
/// not implement), so <c>PeftModel.from_pretrained</c> and <c>PeftConfig.from_pretrained</c> read it as their own.
/// </summary>
public sealed record LoraConfig
{
    /// <summary>The adapter's configuration file name (PEFT's <c>CONFIG_NAME</c>).</summary>
    public const string ConfigFile = "adapter_config.json";

    /// <summary>The adapter's weights file name (PEFT's <c>SAFETENSORS_WEIGHTS_NAME</c>).</summary>
    public const string WeightsFile = "adapter_model.safetensors";

    /// <summary>PEFT's shorthand for "every linear layer except the output head" (<c>INCLUDE_LINEAR_LAYERS_SHORTHAND</c>).</summary>
    public const string AllLinear = "all-linear";

    /// <summary>The rank <c>r</c> of <c>lora_A</c> (r × in) and <c>lora_B</c> (out × r). PEFT's default 8; TRL's 16.</summary>
    public int R { get; init; } = 8;

    /// <summary><c>lora_alpha</c>: the update is scaled by alpha / r (alpha / √r with <see cref="UseRslora"/>).</summary>
    public double LoraAlpha { get; init; } = 8;

    /// <summary>Dropout applied to the adapter's input only (the base layer sees the input unchanged).</summary>
    public double LoraDropout { get; init; }

    /// <summary>
    /// Module names matched as PEFT matches a list: a module whose full name equals an entry or ends with
    /// <c>.entry</c>. Null with <see cref="TargetModulesPattern"/> null means PEFT's default for the model type.
    /// </summary>
    public IReadOnlyList<string>? TargetModules { get; init; }

    /// <summary>
    /// A single string as PEFT reads it: <c>all-linear</c>, or a regular expression that must match a module's full
    /// name (<c>re.fullmatch</c>).
    /// </summary>
    public string? TargetModulesPattern { get; init; }

    /// <summary>PEFT's <c>exclude_modules</c> as a list (suffix match); null when none.</summary>
    public IReadOnlyList<string>? ExcludeModules { get; init; }

    /// <summary>Modules trained in full and saved with the adapter (<c>lm_head</c>, <c>embed_tokens</c>, ...).</summary>
    public IReadOnlyList<string>? ModulesToSave { get; init; }

    /// <summary>Rank-stabilised LoRA: scale by alpha / √r.</summary>
    public bool UseRslora { get; init; }

    /// <summary>True when the targeted weights are stored (in, out), as GPT-2's Conv1D; PEFT sets it for Conv1D targets.</summary>
    public bool FanInFanOut { get; init; }

    /// <summary>PEFT's <c>task_type</c>: <c>CAUSAL_LM</c> for causal LMs, null (a plain <c>PeftModel</c>) for masked LMs.</summary>
    public string? TaskType { get; init; }

    /// <summary>The base model the adapter was trained on, as the user named it.</summary>
    public string? BaseModelNameOrPath { get; init; }

    /// <summary>The base model's revision, when one was asked for.</summary>
    public string? Revision { get; init; }

    /// <summary>The factor the adapter's output is multiplied by: PEFT's <c>scaling[adapter]</c>.</summary>
    public double Scaling => UseRslora ? LoraAlpha / Math.Sqrt(R) : LoraAlpha / R;

    /// <summary>PEFT's <c>TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING</c> for the model types lm-tune builds.</summary>
    public static IReadOnlyList<string> DefaultTargetModules(string modelType) => modelType switch
    {
        "gpt2" => ["c_attn"],
        "bert" or "roberta" => ["query", "value"],
        "llama" or "qwen2" or "mistral" => ["q_proj", "v_proj"],
        _ => throw new LmException(ErrorCodes.LoraConfigInvalid,
            $"PEFT has no default LoRA target modules for model_type '{modelType}'; pass --lora-target-modules"),
    };

    /// <summary>
    /// The config from lm-tune's arguments (TRL's names): <c>lora_target_modules</c> is <c>all-linear</c> or
    /// comma-separated module names (always a list, also for one name, so <c>c_attn</c> matches
    /// <c>transformer.h.0.attn.c_attn</c>); null means PEFT's default for the model type.
    /// </summary>
    public static LoraConfig FromArguments(ModelArguments args, string? taskType)
    {
        if (args.LoraR <= 0) throw new LmException(ErrorCodes.LoraConfigInvalid, $"lora_r must be positive, got {args.LoraR}");
        if (!double.IsFinite(args.LoraAlpha) || args.LoraAlpha <= 0)
            throw new LmException(ErrorCodes.LoraConfigInvalid, $"lora_alpha must be positive, got {args.LoraAlpha}");
        if (args.LoraDropout is < 0 or >= 1 || double.IsNaN(args.LoraDropout))
            throw new LmException(ErrorCodes.LoraConfigInvalid, $"lora_dropout must be in [0, 1), got {args.LoraDropout}");
        string? targets = args.LoraTargetModules?.Trim();
        bool allLinear = string.Equals(targets, AllLinear, StringComparison.OrdinalIgnoreCase);
        return new LoraConfig
        {
            R = args.LoraR,
            LoraAlpha = args.LoraAlpha,
            LoraDropout = args.LoraDropout,
            TargetModulesPattern = allLinear ? AllLinear : null,
            TargetModules = allLinear || string.IsNullOrEmpty(targets) ? null : SplitNames(targets, "lora_target_modules"),
            ModulesToSave = string.IsNullOrWhiteSpace(args.LoraModulesToSave) ? null : SplitNames(args.LoraModulesToSave, "lora_modules_to_save"),
            UseRslora = args.UseRslora,
            TaskType = taskType,
            BaseModelNameOrPath = args.ModelNameOrPath,
            Revision = args.ModelRevision == "main" ? null : args.ModelRevision,
        };
    }

    private static string[] SplitNames(string text, string argument)
    {
        string[] names = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (names.Length == 0) throw new LmException(ErrorCodes.LoraConfigInvalid, $"{argument} names no module: '{text}'");
        return names;
    }

    /// <summary>
    /// adapter_config.json as PEFT's <c>save_pretrained</c> writes it: <c>json.dumps(indent=2, sort_keys=True)</c>,
    /// <c>inference_mode: true</c> (PEFT sets it while saving), target modules as a list (sorted; PEFT writes a set).
    /// </summary>
    public string ToJson()
    {
        static JsonNode? List(IReadOnlyList<string>? names) =>
            names is null ? null : new JsonArray(names.Order(StringComparer.Ordinal).Select(n => (JsonNode?)JsonValue.Create(n)).ToArray());
        static JsonNode Float(double value) => JsonNode.Parse(PythonJson.FormatFloat(value))!;
        var json = new JsonObject
        {
            ["alpha_pattern"] = new JsonObject(),
            ["auto_mapping"] = null,
            ["base_model_name_or_path"] = BaseModelNameOrPath,
            ["bias"] = "none",
            ["corda_config"] = null,
            ["eva_config"] = null,
            ["exclude_modules"] = List(ExcludeModules),
            ["fan_in_fan_out"] = FanInFanOut,
            ["inference_mode"] = true,
            ["init_lora_weights"] = true,
            ["layer_replication"] = null,
            ["layers_pattern"] = null,
            ["layers_to_transform"] = null,
            ["loftq_config"] = new JsonObject(),
            // PEFT's lora_alpha is an int; a fractional alpha stays a float, as Python would write it.
            ["lora_alpha"] = LoraAlpha == Math.Floor(LoraAlpha) && Math.Abs(LoraAlpha) < 1e15 ? JsonValue.Create((long)LoraAlpha) : Float(LoraAlpha),
            ["lora_bias"] = false,
            ["lora_dropout"] = Float(LoraDropout),
            ["megatron_config"] = null,
            ["megatron_core"] = "megatron.core",
            ["modules_to_save"] = List(ModulesToSave),
            ["peft_type"] = "LORA",
            ["qalora_group_size"] = 16,
            ["r"] = R,
            ["rank_pattern"] = new JsonObject(),
            ["revision"] = Revision,
            ["target_modules"] = TargetModulesPattern is string pattern ? pattern : List(TargetModules),
            ["target_parameters"] = null,
            ["task_type"] = TaskType,
            ["trainable_token_indices"] = null,
            ["use_dora"] = false,
            ["use_qalora"] = false,
            ["use_rslora"] = UseRslora,
        };
        return PythonJson.Serialize(json, sortKeys: true);
    }

    /// <summary>
    /// Reads <c>adapter_config.json</c> of an adapter folder as <c>LoraConfig.from_pretrained</c> does. Fields of
    /// features lm-tune does not implement must hold their defaults (LM0804); other keys are ignored, as PEFT
    /// ignores keys of newer releases.
    /// </summary>
    public static LoraConfig Load(string folder)
    {
        if (!Directory.Exists(folder))
            throw new LmException(ErrorCodes.AdapterFolderUnreadable, $"adapter folder {folder} does not exist") { File = folder };
        string path = Path.Combine(folder, ConfigFile);
        if (!File.Exists(path))
            throw new LmException(ErrorCodes.AdapterFolderUnreadable, $"{folder} has no {ConfigFile}; it is not a PEFT adapter folder") { File = path };
        var json = JsonFields.Read(path, ErrorCodes.LoraConfigInvalid);
        string? peftType = json.String("peft_type");
        if (peftType != "LORA")
            throw json.Error("peft_type", $"is '{peftType}'; lm-tune reads LoRA adapters (\"LORA\") only");
        Unsupported(json, "use_dora", n => n is JsonValue v && v.TryGetValue(out bool b) && !b, "DoRA");
        Unsupported(json, "lora_bias", n => n is JsonValue v && v.TryGetValue(out bool b) && !b, "LoRA biases");
        Unsupported(json, "bias", n => n is JsonValue v && v.TryGetValue(out string? s) && s == "none", "trained biases (bias other than \"none\")");
        Unsupported(json, "rank_pattern", n => n is JsonObject o && o.Count == 0, "per-module ranks (rank_pattern)");
        Unsupported(json, "alpha_pattern", n => n is JsonObject o && o.Count == 0, "per-module alphas (alpha_pattern)");
        Unsupported(json, "layers_to_transform", _ => false, "layer selection (layers_to_transform)");
        Unsupported(json, "layers_pattern", _ => false, "layer selection (layers_pattern)");
        Unsupported(json, "layer_replication", _ => false, "layer_replication");
        Unsupported(json, "target_parameters", n => n is JsonArray a && a.Count == 0, "target_parameters");
        Unsupported(json, "trainable_token_indices", _ => false, "trainable_token_indices");
        Unsupported(json, "use_qalora", n => n is JsonValue v && v.TryGetValue(out bool b) && !b, "QALoRA");

        var (targets, targetPattern) = NamesOrPattern(json, "target_modules");
        var (exclude, excludePattern) = NamesOrPattern(json, "exclude_modules");
        if (excludePattern is not null)
            throw new LmException(ErrorCodes.LoraFeatureUnsupported, $"{path}: \"exclude_modules\" as a regular expression is not supported; use a list of names") { File = path };
        var (modulesToSave, _) = NamesOrPattern(json, "modules_to_save", listOnly: true);
        return new LoraConfig
        {
            R = json.Int("r", min: 1) ?? 8,
            LoraAlpha = json.Double("lora_alpha", min: double.Epsilon, finite: true) ?? 8,
            LoraDropout = json.Double("lora_dropout", min: 0, max: 0.999999, finite: true) ?? 0,
            TargetModules = targets,
            TargetModulesPattern = targetPattern,
            ExcludeModules = exclude,
            ModulesToSave = modulesToSave,
            UseRslora = json.Bool("use_rslora") ?? false,
            FanInFanOut = json.Bool("fan_in_fan_out") ?? false,
            TaskType = json.String("task_type"),
            BaseModelNameOrPath = json.String("base_model_name_or_path"),
            Revision = json.String("revision"),
        };
    }

    private static void Unsupported(JsonFields json, string key, Func<JsonNode, bool> isDefault, string feature)
    {
        if (json.Json[key] is JsonNode node && !isDefault(node))
            throw new LmException(ErrorCodes.LoraFeatureUnsupported,
                $"{json.File}: the adapter uses {feature} (\"{key}\": {node.ToJsonString()}), which lm-tune does not implement") { File = json.File };
    }

    private static (IReadOnlyList<string>? Names, string? Pattern) NamesOrPattern(JsonFields json, string key, bool listOnly = false)
    {
        switch (json.Json[key])
        {
            case null:
                return (null, null);
            case JsonValue value when !listOnly && value.TryGetValue(out string? text):
                return (null, text);
            case JsonArray array:
                var names = new List<string>();
                foreach (var item in array)
                {
                    if (item is not JsonValue v || !v.TryGetValue(out string? name) || name.Length == 0)
                        throw json.Error(key, "must be a list of module names");
                    names.Add(name);
                }
                return (names, null);
            default:
                throw json.Error(key, listOnly ? "must be a list of module names" : "must be a list of module names or a string");
        }
    }
}
