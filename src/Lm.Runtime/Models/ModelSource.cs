using Lm.Runtime.Errors;
using Lm.Runtime.Hub;
using Lm.Runtime.Tokenization;
using TorchSharp;

namespace Lm.Runtime.Models;

/// <summary>
/// Where a command's model comes from, resolved before any weights are read: a model folder (local, hub cache, or
/// downloaded from the hub) or a random initialisation (a tiny preset, or <c>--config-name</c> / <c>--model-type</c>
/// without a model, as run_clm.py trains from scratch), with its configuration and tokenizer. The job runner, the
/// command line and library code resolve a model the same way; nothing here writes to the console: what a user
/// should read goes to the <c>info</c> and <c>detail</c> callbacks.
/// </summary>
public sealed class ModelSource
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
    /// <param name="args">The job's model arguments.</param>
    /// <param name="info">Lines a user reads at normal verbosity (downloads, "randomly initialised").</param>
    /// <param name="detail">Lines for detailed logs (where a hub id resolved to).</param>
    /// <param name="cancellation">Stops a download.</param>
    public static async Task<ModelSource> ResolveAsync(ModelArguments args, Action<string>? info = null, Action<string>? detail = null,
        CancellationToken cancellation = default)
    {
        info ??= _ => { };
        detail ??= _ => { };
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
                info($"config overrides: {args.ConfigOverrides}");
            }
            info($"model: {configName}, randomly initialised (training from scratch)");
            return new ModelSource(configName, null, fresh, await TokenizerAsync(args, fresh, null, info, cancellation));
        }
        if (!Directory.Exists(name) && IsRandomInitPreset(name))
        {
            var presetConfig = ModelPresets.Config(name);
            // hfcompat: a tiny preset is a from-scratch config, so config_overrides applies to it (run_clm.py's update_from_string);
            // FineTuneJob.Validate refused it (LM0531) for pretrained weights.
            if (!string.IsNullOrWhiteSpace(args.ConfigOverrides)) presetConfig = ApplyOverrides(presetConfig, args.ConfigOverrides);
            info($"model: preset {name}, randomly initialised");
            return new ModelSource(name, null, presetConfig, await TokenizerAsync(args, presetConfig, null, info, cancellation));
        }
        args.CheckConfigOptions(randomInit: false); // hfcompat: for commands that skip FineTuneJob.Validate (data stats)
        var settings = HubSettings.FromEnvironment(args.CacheDir);
        string folder = await ModelLocator.ResolveAsync(name, args.ModelRevision, settings, info, cancellation);
        var config = PretrainedModel.ReadConfig(folder);
        if (folder != name) detail($"model: {name} -> {folder}");
        return new ModelSource(name, folder, config, await TokenizerAsync(args, config, folder, info, cancellation));
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
    public string Objective(ModelArguments args) => ObjectiveFor(args.Objective, Config.ModelType);

    /// <summary>The objective: explicit, else the model type's (<see cref="ModelArchitecture.Objective"/>).</summary>
    public static string ObjectiveFor(string? explicitObjective, string modelType) =>
        explicitObjective ?? ModelArchitectures.Find(modelType)?.Objective
        ?? throw new LmException(ErrorCodes.InvalidArgument,
            $"objective cannot be inferred for model_type '{modelType}'; pass objective clm or mlm");

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
        Action<string> info, CancellationToken cancellation)
    {
        if (!string.IsNullOrWhiteSpace(args.TokenizerName))
        {
            string folder = Directory.Exists(args.TokenizerName)
                ? args.TokenizerName
                : await ModelLocator.ResolveAsync(args.TokenizerName, args.ModelRevision, HubSettings.FromEnvironment(args.CacheDir), info, cancellation);
            return LmTokenizer.FromPretrained(folder);
        }
        if (modelFolder is not null) return LmTokenizer.FromPretrained(modelFolder);
        return DefaultTokenizer(config);
    }

    /// <summary>The embedded vocabulary for a model created from scratch (its architecture's, when one fits).</summary>
    public static LmTokenizer DefaultTokenizer(ModelConfig config) =>
        ModelArchitectures.For(config).DefaultTokenizerFor(config)
        ?? throw new LmException(ErrorCodes.TokenizerFilesNotFound,
            $"a {config.ModelType} model created from scratch (vocab_size {config.VocabSize}) has no built-in vocabulary; " +
            "pass --tokenizer-name with a tokenizer folder that fits it");
}
