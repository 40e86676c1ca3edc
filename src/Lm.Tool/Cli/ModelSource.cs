using Lm.Runtime.Errors;
using Lm.Runtime.Hub;
using Lm.Runtime.Jobs;
using Lm.Runtime.Models;
using Lm.Runtime.Tokenization;
using TorchSharp;

namespace Lm.Tool.Cli;

/// <summary>
/// Where a command's model comes from, resolved before any weights are read: a model folder (local, hub cache, or
/// downloaded from the hub) or a random initialisation (a tiny preset, or <c>--config-name</c> / <c>--model-type</c>
/// without a model, as run_clm.py trains from scratch), with its configuration and tokenizer.
/// </summary>
internal sealed class ModelSource
{
    private ModelSource(string name, string? folder, ModelConfig config, LmTokenizer tokenizer)
    {
        Name = name;
        Folder = folder;
        Config = config;
        Tokenizer = tokenizer;
    }

    /// <summary>What the user named (folder, hub id, preset, config).</summary>
    public string Name { get; }

    /// <summary>The HF folder holding the weights; null for a random initialisation.</summary>
    public string? Folder { get; }

    public ModelConfig Config { get; }

    public LmTokenizer Tokenizer { get; }

    /// <summary>True when the weights are drawn at random (HF's initialisation, seeded).</summary>
    public bool IsRandomInit => Folder is null;

    /// <summary>
    /// Whether <c>--model NAME</c> means a random initialisation: the <c>tiny-*</c> presets. Presets named like hub
    /// checkpoints (<c>distilgpt2</c>, <c>roberta-base</c> ...) mean the pretrained hub model; their random
    /// initialisation is <c>--config-name NAME</c> or <c>lm-tune init NAME</c>.
    /// </summary>
    public static bool IsRandomInitPreset(string name) =>
        name.StartsWith("tiny-", StringComparison.OrdinalIgnoreCase) && ModelPresets.Contains(name);

    /// <summary>Resolves the model arguments of a job (downloading from the hub when that is what they name).</summary>
    public static async Task<ModelSource> ResolveAsync(ModelArguments args, CliOutput output, CancellationToken cancellation)
    {
        string? name = args.ModelNameOrPath;
        if (string.IsNullOrWhiteSpace(name))
        {
            // run_clm.py from scratch: a config by name (or file), else the model type's default config.
            string configName = args.ConfigName ?? args.ModelType
                ?? throw new LmException(ErrorCodes.InvalidArgument, "model_name_or_path is required (a model folder, hub id or preset such as tiny-gpt2)");
            var fresh = ConfigFromName(configName);
            if (!string.IsNullOrWhiteSpace(args.ConfigOverrides))
            {
                fresh = ApplyOverrides(fresh, args.ConfigOverrides);
                output.Info($"config overrides: {args.ConfigOverrides}");
            }
            output.Info($"model: {configName}, randomly initialised (training from scratch)");
            return new ModelSource(configName, null, fresh, await TokenizerAsync(args, fresh, null, output, cancellation));
        }
        if (!Directory.Exists(name) && IsRandomInitPreset(name))
        {
            var presetConfig = ModelPresets.Config(name);
            output.Info($"model: preset {name}, randomly initialised");
            return new ModelSource(name, null, presetConfig, await TokenizerAsync(args, presetConfig, null, output, cancellation));
        }
        var settings = HubSettings.FromEnvironment(args.CacheDir);
        string folder = await ModelLocator.ResolveAsync(name, args.ModelRevision, settings, output.Info, cancellation);
        var config = PretrainedModel.ReadConfig(folder);
        if (folder != name) output.Detail($"model: {name} -> {folder}");
        return new ModelSource(name, folder, config, await TokenizerAsync(args, config, folder, output, cancellation));
    }

    /// <summary>Reads the weights (or draws them with <paramref name="seed"/>) onto the device in the dtype the arguments ask for,
    /// with the LoRA adapter the arguments ask for (trainable when <paramref name="training"/>).</summary>
    public LanguageModel CreateModel(ModelArguments args, long seed, bool training = false)
    {
        var model = CreateBaseModel(args, seed);
        try
        {
            // LoRA: --adapter-name-or-path / --use-peft wrap the base (frozen, possibly bf16) with float32 adapters.
            Lm.Runtime.Models.Lora.LoraSetup.Apply(model, args, training, seed);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private LanguageModel CreateBaseModel(ModelArguments args, long seed)
    {
        string dtype = args.TorchDtype ?? "float32";
        if (Folder is not null) return PretrainedModel.Load(Folder, args.Device, dtype);
        var model = LanguageModel.Create(Config, seed);
        var device = ModelDevice.Parse(args.Device);
        var scalarType = ModelDtype.Parse(dtype, Config);
        if (device.type != DeviceType.CPU || scalarType != torch.ScalarType.Float32) model.to(device, scalarType);
        return model;
    }

    /// <summary>The objective the model trains with: <c>--objective</c>, else from the model type.</summary>
    public string Objective(ModelArguments args) => FineTuneJob.ObjectiveFor(args.Objective, Config.ModelType);

    /// <summary>
    /// HF's <c>config.update_from_string</c>: <c>key=value</c> pairs separated by commas, each key one the config has,
    /// each value converted to that key's type (true/1/y/yes for booleans).
    /// </summary>
    public static ModelConfig ApplyOverrides(ModelConfig config, string overrides)
    {
        var json = System.Text.Json.Nodes.JsonNode.Parse(config.ToJson())!.AsObject();
        foreach (string pair in overrides.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = pair.IndexOf('=');
            string key = eq > 0 ? pair[..eq] : pair;
            string text = eq > 0 ? pair[(eq + 1)..] : "";
            if (eq <= 0 || json[key] is not System.Text.Json.Nodes.JsonValue old)
                throw new LmException(ErrorCodes.InvalidArgument, $"config_overrides: key '{key}' isn't in the original config dict");
            var culture = System.Globalization.CultureInfo.InvariantCulture;
            json[key] = old.GetValueKind() switch
            {
                System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False =>
                    text.ToLowerInvariant() is "true" or "1" or "y" or "yes",
                System.Text.Json.JsonValueKind.Number when old.ToJsonString().All(c => char.IsAsciiDigit(c) || c == '-') =>
                    int.TryParse(text, culture, out int i) ? i : throw Mismatch(key, text, "a whole number"),
                System.Text.Json.JsonValueKind.Number =>
                    double.TryParse(text, System.Globalization.NumberStyles.Float, culture, out double d) ? d : throw Mismatch(key, text, "a number"),
                System.Text.Json.JsonValueKind.String => text,
                _ => throw Mismatch(key, text, "a value of a type that can be overridden"),
            };
        }
        return ModelConfig.Parse(json.ToJsonString());

        static LmException Mismatch(string key, string text, string expected) =>
            new(ErrorCodes.ArgumentTypeMismatch, $"config_overrides: {key} expects {expected}, got '{text}'");
    }

    /// <summary>A preset name or a config.json path.</summary>
    public static ModelConfig ConfigFromName(string name)
    {
        if (File.Exists(name)) return ModelConfig.Load(name);
        if (Directory.Exists(name)) return PretrainedModel.ReadConfig(name);
        return ModelPresets.Config(name);
    }

    /// <summary>
    /// The tokenizer: <c>--tokenizer-name</c> (a folder or hub id), else the model folder's, else for a random
    /// initialisation the vocabulary of its type (GPT-2's for gpt2, RoBERTa's built on GPT-2's for roberta).
    /// </summary>
    private static async Task<LmTokenizer> TokenizerAsync(ModelArguments args, ModelConfig config, string? modelFolder,
        CliOutput output, CancellationToken cancellation)
    {
        if (!string.IsNullOrWhiteSpace(args.TokenizerName))
        {
            string folder = Directory.Exists(args.TokenizerName)
                ? args.TokenizerName
                : await ModelLocator.ResolveAsync(args.TokenizerName, args.ModelRevision, HubSettings.FromEnvironment(args.CacheDir), output.Info, cancellation);
            return LmTokenizer.FromPretrained(folder);
        }
        if (modelFolder is not null) return LmTokenizer.FromPretrained(modelFolder);
        return DefaultTokenizer(config);
    }

    /// <summary>The embedded vocabulary for a model created from scratch.</summary>
    public static LmTokenizer DefaultTokenizer(ModelConfig config) => config.ModelType switch
    {
        "gpt2" => LmTokenizer.Gpt2(),
        "roberta" => LmTokenizer.RobertaFromGpt2(),
        // No Llama-family vocabulary ships with lm-tune; GPT-2's fits any embedding with at least its 50,257 rows
        // (the rows beyond it are a padded vocabulary, as Qwen2's 151,936 rows are beyond its tokenizer).
        "llama" or "qwen2" or "mistral" when config.VocabSize >= 50257 => LmTokenizer.Gpt2(),
        _ => throw new LmException(ErrorCodes.TokenizerFilesNotFound,
            $"a {config.ModelType} model created from scratch (vocab_size {config.VocabSize}) has no built-in vocabulary; " +
            "pass --tokenizer-name with a tokenizer folder that fits it"),
    };
}
