using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Lm.Runtime.Checkpoints;
using Lm.Runtime.Errors;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Lm.Runtime.Models.Lora;

/// <summary>
/// PEFT's <c>LoraModel</c> / <c>PeftModel</c> over a lm-tune <see cref="LanguageModel"/>: LoRA layers on the targeted
/// linear layers, the base frozen (no gradients, so no optimizer state), <c>modules_to_save</c> trained in full, and
/// the adapter saved and loaded as PEFT's <c>save_pretrained</c> / <c>from_pretrained</c> do: adapter_config.json
/// and adapter_model.safetensors with keys <c>base_model.model.&lt;module&gt;.lora_A.weight</c> (no adapter name).
/// </summary>
public sealed class LoraModel
{
    /// <summary>The prefix PEFT's saved keys carry (<c>PeftModel.base_model</c> → <c>LoraModel.model</c>).</summary>
    public const string KeyPrefix = "base_model.model.";

    private static readonly ConditionalWeakTable<LanguageModel, LoraModel> Attached = new();

    private readonly List<LoraLayer> _layers;
    private readonly List<string> _modulesToSave;

    private LoraModel(LanguageModel model, LoraConfig config, List<LoraLayer> layers, List<string> modulesToSave)
    {
        Model = model;
        Config = config;
        _layers = layers;
        _modulesToSave = modulesToSave;
    }

    /// <summary>The model the adapter is applied to.</summary>
    public LanguageModel Model { get; }

    /// <summary>The configuration as PEFT holds it after injection: <c>all-linear</c> expanded to module names, <c>fan_in_fan_out</c> set for Conv1D.</summary>
    public LoraConfig Config { get; }

    /// <summary>The LoRA layers in model order.</summary>
    public IReadOnlyList<LoraLayer> Layers => _layers;

    /// <summary>The modules trained in full (full names).</summary>
    public IReadOnlyList<string> ModulesToSave => _modulesToSave;

    /// <summary>The adapter applied to <paramref name="model"/>, or null when it has none.</summary>
    public static LoraModel? Of(LanguageModel model) => Attached.TryGetValue(model, out var adapter) ? adapter : null;

    /// <summary>
    /// PEFT's <c>get_peft_model(model, config)</c>: adds fresh LoRA layers (A Kaiming-uniform, B zero, so the model's
    /// output is unchanged) and freezes everything but them and <c>modules_to_save</c>. Seed the torch generator
    /// first for reproducible A.
    /// </summary>
    public static LoraModel Apply(LanguageModel model, LoraConfig config)
    {
        if (Of(model) is not null) throw new InvalidOperationException("the model already has a LoRA adapter");
        var plan = Plan(model, config);
        var device = model.parameters().First().device;
        using var noGrad = no_grad();
        foreach (var parameter in model.parameters()) parameter.requires_grad = false;
        var layers = plan.Targets.Select(t => new LoraLayer(t.Name, t.Module, t.InFeatures, t.OutFeatures, plan.Config, device)).ToList();
        var adapter = new LoraModel(model, plan.Config, layers, plan.ModulesToSave);
        adapter.SetTrainable(true);
        Attached.Add(model, adapter);
        return adapter;
    }

    /// <summary>
    /// PEFT's <c>PeftModel.from_pretrained(model, folder, is_trainable)</c>: applies the adapter of <paramref name="folder"/>
    /// with its saved weights; with <paramref name="isTrainable"/> its parameters train, else everything is frozen.
    /// </summary>
    public static LoraModel Load(LanguageModel model, string folder, bool isTrainable)
    {
        var config = LoraConfig.Load(folder);
        var adapter = Apply(model, config);
        adapter.LoadWeights(folder);
        adapter.SetTrainable(isTrainable);
        return adapter;
    }

    private void SetTrainable(bool trainable)
    {
        foreach (var (_, parameter) in TrainableNamedParameters()) parameter.requires_grad = trainable;
    }

    /// <summary>The adapter's parameters by model name (LoRA A and B, then modules_to_save), in model order.</summary>
    public IEnumerable<(string Name, Parameter Parameter)> TrainableNamedParameters()
    {
        var modules = _modulesToSave.Select(m => m + ".").ToList();
        foreach (var (name, parameter) in Model.named_parameters())
            if (IsLoraParameter(name) || modules.Any(m => name.StartsWith(m, StringComparison.Ordinal)))
                yield return (name, parameter);
    }

    private bool IsLoraParameter(string name) =>
        name.EndsWith(".lora_A.weight", StringComparison.Ordinal) || name.EndsWith(".lora_B.weight", StringComparison.Ordinal);

    /// <summary>Parameters that train (PEFT's <c>print_trainable_parameters</c> "trainable params").</summary>
    public long TrainableParameterCount() => Model.parameters().Where(p => p.requires_grad).Sum(p => p.numel());

    /// <summary>All parameters, adapter included (PEFT's "all params").</summary>
    public long TotalParameterCount() => Model.ParameterCount();

    /// <summary>PEFT's <c>get_peft_model_state_dict</c>: the adapter's tensors (live) by saved key.</summary>
    public Dictionary<string, Tensor> AdapterStateDict() =>
        TrainableNamedParameters().ToDictionary(p => KeyPrefix + p.Name, p => (Tensor)p.Parameter, StringComparer.Ordinal);

    /// <summary>
    /// PEFT's <c>save_pretrained</c>: adapter_config.json and adapter_model.safetensors (<c>{"format":"pt"}</c>) in
    /// <paramref name="folder"/>, staged inside it and moved in, weights first, so a reader never sees a config
    /// without its weights. Other files in the folder are kept.
    /// </summary>
    public void Save(string folder)
    {
        string target = Path.GetFullPath(folder);
        string? staging = null;
        try
        {
            Directory.CreateDirectory(target);
            StagingFolders.RemoveStale(target);
            staging = Path.Combine(target, StagingFolders.NewModelStagingName());
            Directory.CreateDirectory(staging);
            SafeTensorsWriter.Write(Path.Combine(staging, LoraConfig.WeightsFile), AdapterStateDict());
            File.WriteAllText(Path.Combine(staging, LoraConfig.ConfigFile), Config.ToJson());
            foreach (string file in (string[])[LoraConfig.WeightsFile, LoraConfig.ConfigFile])
                DurableFiles.Flush(Path.Combine(staging, file));
            foreach (string file in (string[])[LoraConfig.WeightsFile, LoraConfig.ConfigFile])
                File.Move(Path.Combine(staging, file), Path.Combine(target, file), overwrite: true);
            DurableFiles.Flush(target);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LmException(ErrorCodes.CheckpointWriteFailed, $"Cannot save the adapter to {folder}: {e.Message}", e) { File = folder };
        }
        finally
        {
            if (staging is not null && Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>
    /// Copies <c>adapter_model.safetensors</c> of <paramref name="folder"/> into the adapter, after checking that its
    /// keys are exactly the adapter's (LM0802 lists the missing and unexpected ones) and every shape fits.
    /// </summary>
    public void LoadWeights(string folder)
    {
        string path = WeightsPath(folder);
        var expected = AdapterStateDict();
        var weights = SafeTensorsReader.Read(path);
        try
        {
            CheckKeys(path, expected.ToDictionary(p => p.Key, p => p.Value.shape), weights);
            using var noGrad = no_grad();
            foreach (var (key, parameter) in expected) parameter.copy_(weights[key]);
        }
        finally
        {
            foreach (var tensor in weights.Values) tensor.Dispose();
        }
    }

    /// <summary>
    /// PEFT's <c>merge_and_unload</c> applied to a plain model: reads the adapter in <paramref name="folder"/> and
    /// adds <c>B·A·scaling</c> to each targeted weight (transposed for fan-in-fan-out weights) and copies the
    /// modules_to_save, so <paramref name="model"/> computes what base + adapter computes, with no adapter left.
    /// </summary>
    public static LoraConfig MergeInto(LanguageModel model, string folder)
    {
        var plan = Plan(model, LoraConfig.Load(folder));
        string path = WeightsPath(folder);
        var parameters = model.StateDict();
        var shapes = new Dictionary<string, long[]>(StringComparer.Ordinal);
        foreach (var target in plan.Targets)
        {
            shapes[KeyPrefix + target.Name + ".lora_A.weight"] = [plan.Config.R, target.InFeatures];
            shapes[KeyPrefix + target.Name + ".lora_B.weight"] = [target.OutFeatures, plan.Config.R];
        }
        foreach (string module in plan.ModulesToSave)
            foreach (var (name, parameter) in parameters.Where(p => p.Key.StartsWith(module + ".", StringComparison.Ordinal)))
                shapes[KeyPrefix + name] = parameter.shape;
        var weights = SafeTensorsReader.Read(path);
        try
        {
            CheckKeys(path, shapes, weights);
            using var noGrad = no_grad();
            foreach (var target in plan.Targets)
            {
                var weight = parameters[target.Name + ".weight"];
                using var delta = LoraLayer.DeltaWeight(weights[KeyPrefix + target.Name + ".lora_A.weight"],
                    weights[KeyPrefix + target.Name + ".lora_B.weight"], plan.Config.Scaling, target.IsConv1D);
                using var merged = weight.to(ScalarType.Float32).add(delta);
                weight.copy_(merged);
            }
            foreach (string module in plan.ModulesToSave)
                foreach (var (name, parameter) in parameters.Where(p => p.Key.StartsWith(module + ".", StringComparison.Ordinal)))
                    parameter.copy_(weights[KeyPrefix + name]);
        }
        finally
        {
            foreach (var tensor in weights.Values) tensor.Dispose();
        }
        return plan.Config;
    }

    private static string WeightsPath(string folder)
    {
        string path = Path.Combine(folder, LoraConfig.WeightsFile);
        if (!File.Exists(path))
            throw new LmException(ErrorCodes.AdapterFolderUnreadable,
                File.Exists(Path.Combine(folder, "adapter_model.bin"))
                    ? $"{folder} has only adapter_model.bin, a Python pickle lm-tune never executes; save the adapter again with safe_serialization=True"
                    : $"{folder} has no {LoraConfig.WeightsFile}") { File = folder };
        return path;
    }

    private static void CheckKeys(string path, IReadOnlyDictionary<string, long[]> expected, IReadOnlyDictionary<string, Tensor> weights)
    {
        var missing = expected.Keys.Where(k => !weights.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        var unexpected = weights.Keys.Where(k => !expected.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        if (missing.Count > 0 || unexpected.Count > 0)
            throw new LmException(ErrorCodes.AdapterWeightsMismatch,
                $"{path} does not fit the adapter_config.json and the model:" + Describe(" missing", missing) + Describe(" unexpected", unexpected))
            { File = path };
        foreach (var (key, shape) in expected)
            if (!weights[key].shape.SequenceEqual(shape))
                throw new LmException(ErrorCodes.AdapterWeightsMismatch,
                    $"{path}: '{key}' has shape [{string.Join(", ", weights[key].shape)}] but the model needs [{string.Join(", ", shape)}]") { File = path };
    }

    private static string Describe(string label, IReadOnlyList<string> keys) => keys.Count == 0
        ? ""
        : $"{label} ({keys.Count}): {string.Join(", ", keys.Take(10))}{(keys.Count > 10 ? ", …" : "")}";

    private sealed record Target(string Name, nn.Module<Tensor, Tensor> Module, long InFeatures, long OutFeatures, bool IsConv1D);

    private sealed record AdapterPlan(LoraConfig Config, List<Target> Targets, List<string> ModulesToSave);

    /// <summary>
    /// PEFT's target selection (<c>check_target_module_exists</c>, <c>_maybe_include_all_linear_layers</c>): which
    /// modules get LoRA layers, and the config as PEFT rewrites it (all-linear → the module names; fan_in_fan_out for Conv1D).
    /// </summary>
    private static AdapterPlan Plan(LanguageModel model, LoraConfig config)
    {
        if (config.R <= 0) throw new LmException(ErrorCodes.LoraConfigInvalid, $"lora r must be positive, got {config.R}");
        var modules = model.named_modules().Where(m => m.name.Length > 0).ToList();
        var modulesToSave = ResolveModulesToSave(model, config, modules);
        bool allLinear = string.Equals(config.TargetModulesPattern, LoraConfig.AllLinear, StringComparison.OrdinalIgnoreCase);
        var names = config.TargetModules ?? (config.TargetModulesPattern is null ? LoraConfig.DefaultTargetModules(model.Config.ModelType) : null);
        Regex? pattern = !allLinear && config.TargetModulesPattern is string p ? FullMatch(p) : null;
        var targets = new List<Target>();
        foreach (var (name, module) in modules)
        {
            if (IsListed(name, config.ExcludeModules)) continue;
            if (modulesToSave.Any(m => name == m || name.StartsWith(m + ".", StringComparison.Ordinal))) continue;
            if (IsLoraSubmodule(name)) continue;
            bool isLinear = module is Linear or Conv1D;
            // all-linear: every linear layer but the output head (get_output_embeddings: lm_head in the Llama family;
            // the other heads compute with the tied embedding and have no linear module).
            bool selected = allLinear ? isLinear && name != "lm_head"
                : pattern is not null ? pattern.IsMatch(name)
                : IsListed(name, names);
            if (!selected) continue;
            targets.Add(module switch
            {
                Linear linear => new Target(name, linear, linear.weight!.shape[1], linear.weight!.shape[0], IsConv1D: false),
                Conv1D conv => new Target(name, conv, conv.weight.shape[0], conv.weight.shape[1], IsConv1D: true),
                _ => throw new LmException(ErrorCodes.LoraTargetNotFound,
                    $"target module '{name}' is not a linear layer; LoRA adapts linear layers: {LinearNames(modules)}"),
            });
        }
        if (targets.Count == 0)
            throw new LmException(ErrorCodes.LoraTargetNotFound,
                $"the LoRA target modules ({(config.TargetModulesPattern ?? string.Join(",", names!))}) match no module of {model.ArchitectureName}; " +
                $"its linear layers are named {LinearNames(modules)}");
        bool conv1D = targets.Any(t => t.IsConv1D);
        var resolved = config with
        {
            // PEFT rewrites all-linear into the set of matched module names before saving the config.
            TargetModules = allLinear ? targets.Select(t => t.Name).ToList() : names,
            TargetModulesPattern = allLinear ? null : config.TargetModulesPattern,
            // PEFT warns and sets fan_in_fan_out for Conv1D targets (and clears it for nn.Linear ones).
            FanInFanOut = conv1D,
        };
        return new AdapterPlan(resolved, targets, modulesToSave);
    }

    private static bool IsLoraSubmodule(string name) =>
        name.EndsWith(".lora_A", StringComparison.Ordinal) || name.EndsWith(".lora_B", StringComparison.Ordinal)
        || name.EndsWith(".lora_dropout", StringComparison.Ordinal);

    private static bool IsListed(string name, IReadOnlyList<string>? names) =>
        names is not null && names.Any(n => name == n || name.EndsWith("." + n, StringComparison.Ordinal));

    private static Regex FullMatch(string pattern)
    {
        try
        {
            return new Regex($"^(?:{pattern})$", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
        }
        catch (ArgumentException e)
        {
            throw new LmException(ErrorCodes.LoraConfigInvalid, $"target_modules '{pattern}' is not a valid regular expression: {e.Message}");
        }
    }

    private static string LinearNames(IEnumerable<(string name, nn.Module module)> modules) =>
        string.Join(", ", modules.Where(m => m.module is Linear or Conv1D).Select(m => m.name[(m.name.LastIndexOf('.') + 1)..]).Distinct());

    /// <summary>
    /// PEFT's <c>modules_to_save</c> matching: a module whose full name equals an entry or ends with <c>.entry</c>.
    /// A module holding a tied weight cannot be trained apart from its twin here (PEFT would untie a copy), so it is refused.
    /// </summary>
    private static List<string> ResolveModulesToSave(LanguageModel model, LoraConfig config, List<(string name, nn.Module module)> modules)
    {
        var result = new List<string>();
        if (config.ModulesToSave is null) return result;
        var tiedOwners = model.TiedWeights.Values.ToHashSet(StringComparer.Ordinal);
        foreach (string entry in config.ModulesToSave)
        {
            var matches = modules.Where(m => m.name == entry || m.name.EndsWith("." + entry, StringComparison.Ordinal)).ToList();
            if (matches.Count == 0)
            {
                string tiedNote = model.TiedWeights.Keys.Any(k => k == entry + ".weight")
                    ? $" ({entry}.weight is the tied input embedding {model.TiedWeights[entry + ".weight"]} in this model)"
                    : "";
                throw new LmException(ErrorCodes.LoraTargetNotFound, $"modules_to_save names '{entry}', which is no module of {model.ArchitectureName}{tiedNote}");
            }
            foreach (var (name, module) in matches)
            {
                if (module.named_parameters().Any(p => tiedOwners.Contains(name + "." + p.name)))
                    throw new LmException(ErrorCodes.LoraFeatureUnsupported,
                        $"modules_to_save '{name}' holds a weight tied to the output head; training it apart from the head (as PEFT's untied copy) is not supported");
                result.Add(name);
            }
        }
        return result;
    }
}
