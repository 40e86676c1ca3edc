using System.Text.Json;
using System.Text.Json.Nodes;
using Lm.Schema;

namespace Lm.Tasks.Jobs;

/// <summary>
/// Turns <c>LanguageModelFineTune</c> items into resolved jobs: joins the attributed config class's compiled
/// configuration with the item's metadata by the rule the generator uses (<see cref="ItemMerge"/>), converts metadata
/// to the schema's types, makes paths absolute, and checks everything a build can check before training (each problem
/// an LM diagnostic pointing at the item in its project file).
/// </summary>
internal sealed class JobResolver
{
    /// <summary>The item type, as written in project files.</summary>
    public const string ItemType = "LanguageModelFineTune";

    // Metadata that is not a schema field (Model is the short name of model_name_or_path).
    private const string ModelMetadata = "Model";
    private const string ConfigMetadata = "Config";
    private const string CopyMetadata = "CopyToOutputDirectory";
    private static readonly string[] CopyModes = ["Never", "PreserveNewest", "Always"];

    // Fields holding paths that are made absolute (relative to the project folder) when given; each file is an input
    // (a changed chat template retrains as a changed data file does).
    private static readonly string[] DataFileFields = ["train_file", "validation_file", "chat_template_path"];
    private static readonly string[] OptionalLocalPathFields = ["model_name_or_path", "config_name", "tokenizer_name"];

    private readonly string _projectDirectory;
    private readonly string _jobRoot;
    private readonly IReadOnlyList<string> _buildOutputRoots;
    private readonly IReadOnlyList<CompiledJobConfiguration> _configurations;
    private readonly IReadOnlyList<string> _compiledTypeNames;
    private readonly string _defaultDevice;
    private readonly string _defaultLauncher;
    private readonly List<JobDiagnostic> _diagnostics = [];

    /// <param name="projectDirectory">The project folder; relative paths are relative to it.</param>
    /// <param name="jobRoot">Folder for the job files (<c>obj/lm/</c>).</param>
    /// <param name="buildOutputRoots">Folders inside the project where outputs may go (obj/, bin/).</param>
    /// <param name="configurations">The compiled configurations of attributed config classes.</param>
    /// <param name="compiledTypeNames">Simple names of the compiled assembly's types, to tell "no such class" from "not attributed".</param>
    /// <param name="defaultDevice">LmDevice: the device when neither item nor class sets one.</param>
    /// <param name="defaultLauncher">LmLauncher: the launcher when neither item nor class sets one (train when empty).</param>
    public JobResolver(string projectDirectory, string jobRoot, IReadOnlyList<string> buildOutputRoots,
        IReadOnlyList<CompiledJobConfiguration> configurations, IReadOnlyList<string> compiledTypeNames, string defaultDevice,
        string defaultLauncher = "")
    {
        _defaultLauncher = defaultLauncher.Trim();
        _projectDirectory = AsFolder(ProjectPath.Full(projectDirectory, Environment.CurrentDirectory));
        _jobRoot = ProjectPath.Full(jobRoot, _projectDirectory);
        _buildOutputRoots = buildOutputRoots.Where(r => r.Length > 0).Select(r => AsFolder(ProjectPath.Full(r, _projectDirectory))).ToList();
        _configurations = configurations;
        _compiledTypeNames = compiledTypeNames;
        _defaultDevice = string.IsNullOrWhiteSpace(defaultDevice) ? "auto" : defaultDevice.Trim();
    }

    /// <summary>Errors and warnings found by <see cref="Resolve"/>.</summary>
    public IReadOnlyList<JobDiagnostic> Diagnostics => _diagnostics;

    /// <summary>Resolves every item; items with errors are left out of the result.</summary>
    public IReadOnlyList<ResolvedJob> Resolve(IReadOnlyList<JobItem> items)
    {
        var resolved = new List<ResolvedJob>();
        var seen = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        foreach (var item in items)
        {
            int occurrence = seen.TryGetValue(item.Name, out int count) ? count : 0;
            seen[item.Name] = occurrence + 1;
            var location = ItemLocation.Find(item.DefiningProjectFile, ItemType, item.Name, occurrence: occurrence);
            if (occurrence > 0)
            {
                Error(TaskErrorCodes.FineTuneDuplicateJob,
                    $"{ItemType} '{item.Name}' is declared more than once; give each job its own name", location);
                continue;
            }
            var job = ResolveOne(item, location);
            if (job is not null) resolved.Add(job);
        }
        return ReportOverlaps(resolved);
    }

    private ResolvedJob? ResolveOne(JobItem item, ItemLocation location)
    {
        int errorsBefore = ErrorCount;
        ItemLocation At(string metadataName) =>
            ItemLocation.Find(item.DefiningProjectFile, ItemType, item.Name, metadataName) is { Line: > 0 } found ? found : location;

        if (item.Name.IndexOfAny([.. Path.GetInvalidFileNameChars(), '/', '\\', ';']) >= 0 || item.Name is "." or "..")
            Error(TaskErrorCodes.FineTuneMetadataInvalid,
                $"{ItemType} name '{item.Name}' must be usable as a folder name (letters, digits, '-', '_', '.')", location);

        var job = new JsonObject();
        string config = item.Get(ConfigMetadata);
        var classJson = config.Length > 0
            ? ClassConfiguration(item, config, At(ConfigMetadata))
            : ImplicitClassConfiguration(item);
        // The class's launch settings ([Distributed]) are the build's, not the job file's (LaunchSettings).
        var classLaunch = classJson?[LaunchSettings.ClassConfigurationKey] as JsonObject;
        if (classJson is not null)
        {
            foreach (var (key, value) in classJson)
            {
                if (key != LaunchSettings.ClassConfigurationKey) job[key] = value?.DeepClone();
            }
        }

        ApplyMetadata(item, job, config.Length > 0 ? config : null, At);

        string copyMode = item.Get(CopyMetadata) is { Length: > 0 } copy ? copy : "Never";
        string? knownCopyMode = CopyModes.FirstOrDefault(m => string.Equals(m, copyMode, StringComparison.OrdinalIgnoreCase));
        if (knownCopyMode is null)
            Error(TaskErrorCodes.FineTuneMetadataInvalid,
                $"{ItemType} '{item.Name}': {CopyMetadata} must be Never, PreserveNewest or Always, got '{copyMode}'", At(CopyMetadata));

        if (IsBlank(job, "model_name_or_path") && IsBlank(job, "model_type") && IsBlank(job, "config_name"))
            Error(TaskErrorCodes.FineTuneItemMissingModel,
                $"{ItemType} '{item.Name}' has no Model: set Model to a preset (tiny-gpt2), a local Hugging Face folder or a hub id", location);
        // A model type lm-tune does not build (src/Shared/Models/ArchitectureTable.cs) fails at the item now rather
        // than minutes later in the tool.
        if (!IsBlank(job, "model_type") && job["model_type"]!.GetValueKind() == JsonValueKind.String
            && job["model_type"]!.GetValue<string>() is string modelType && ArchitectureTable.Find(modelType) is null)
        {
            string? nearest = Suggestion.Nearest(modelType, ArchitectureTable.ModelTypes);
            Error(TaskErrorCodes.FineTuneUnknownModelType,
                $"{ItemType} '{item.Name}': ModelType '{modelType}' is not a model type lm-tune builds ({string.Join(", ", ArchitectureTable.ModelTypes)})" +
                (nearest is null ? "" : $"; did you mean '{nearest}'?"), At("ModelType"));
        }
        if (IsBlank(job, "train_file") && IsBlank(job, "dataset_name"))
            Error(TaskErrorCodes.FineTuneItemMissingTrainFile,
                $"{ItemType} '{item.Name}' has no TrainFile: set TrainFile to a .txt, .csv, .json, .jsonl or .parquet file", location);

        var inputs = new List<string>();
        foreach (string field in DataFileFields)
        {
            if (IsBlank(job, field)) continue;
            string full = ProjectPath.Full(job[field]!.GetValue<string>(), _projectDirectory);
            job[field] = full;
            if (File.Exists(full)) inputs.Add(full);
            else
                Error(TaskErrorCodes.FineTuneDataFileNotFound,
                    $"{ItemType} '{item.Name}': {MetadataNameOf(field)} '{full}' does not exist", At(MetadataNameOf(field)));
        }
        foreach (string field in OptionalLocalPathFields)
        {
            // A local folder or file is made absolute and becomes an input; anything else is a preset or hub id.
            if (IsBlank(job, field)) continue;
            string full = ProjectPath.Full(job[field]!.GetValue<string>(), _projectDirectory);
            if (Directory.Exists(full))
            {
                job[field] = full;
                inputs.AddRange(Directory.EnumerateFiles(full, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal));
            }
            else if (File.Exists(full))
            {
                job[field] = full;
                inputs.Add(full);
            }
        }
        if (IsBlank(job, "device")) job["device"] = _defaultDevice;
        if (!job.ContainsKey("do_train")) job["do_train"] = true;
        // A build keeps one checkpoint (to resume a cancelled build) besides the final model, not HF's unlimited default:
        // a tutorial-sized run inside `dotnet build` would otherwise leave a dozen GB-sized checkpoints in obj/lm/.
        bool defaultedSaveTotalLimit = IsBlank(job, "save_total_limit");
        if (defaultedSaveTotalLimit) job["save_total_limit"] = 1;
        if (!job.ContainsKey("do_eval")) job["do_eval"] = !IsBlank(job, "validation_file");

        string outputDir = AsFolder(ProjectPath.Full(
            IsBlank(job, "output_dir") ? Path.Combine(_jobRoot, item.Name) : job["output_dir"]!.GetValue<string>(), _projectDirectory));
        job["output_dir"] = outputDir;
        CheckOutputPlace(item, outputDir, inputs, At("OutputDir"));
        var launch = ResolveLaunch(item, classLaunch, config.Length > 0 ? config : item.Name, outputDir, At);

        if (ErrorCount > errorsBefore) return null;
        return new ResolvedJob(item.Name, Serialize(job), _jobRoot, outputDir, inputs, location, knownCopyMode!)
        {
            DefaultedSaveTotalLimit = defaultedSaveTotalLimit,
            Launch = launch,
        };
    }

    /// <summary>Without <c>Config</c>, the class whose job name is the item's identity configures it, as the generator pairs them.</summary>
    private JsonObject? ImplicitClassConfiguration(JobItem item)
    {
        var matches = _configurations.Where(c => c.JobName == item.Name).ToList();
        return matches.Count == 1 ? ParseConfiguration(item, matches[0], item.Name, ItemLocation.Find(item.DefiningProjectFile, ItemType, item.Name)) : null;
    }

    private JsonObject? ClassConfiguration(JobItem item, string config, ItemLocation location)
    {
        var matches = _configurations.Where(c => c.IsNamedBy(config)).ToList();
        if (matches.Count == 1) return ParseConfiguration(item, matches[0], config, location);
        string known = _configurations.Count == 0
            ? "the assembly has no fine-tune config classes"
            : "config classes found: " + string.Join(", ", _configurations.Select(c => c.ConfigType ?? c.JobName));
        string message = matches.Count > 1
            ? $"{ItemType} '{item.Name}': Config '{config}' matches several classes ({string.Join(", ", matches.Select(m => m.ConfigType))}); use the full name"
            : _compiledTypeNames.Contains(config[(config.LastIndexOf('.') + 1)..], StringComparer.Ordinal)
                ? $"{ItemType} '{item.Name}': class '{config}' has no fine-tune configuration; mark it with the fine-tune config attribute ({known})"
                : $"{ItemType} '{item.Name}': Config '{config}' names no class in the compiled assembly ({known})";
        Error(TaskErrorCodes.FineTuneConfigNotFound, message, location);
        return null;
    }

    private JsonObject? ParseConfiguration(JobItem item, CompiledJobConfiguration configuration, string config, ItemLocation location)
    {
        try
        {
            if (JsonNode.Parse(configuration.Json) is JsonObject json) return json;
        }
        catch (JsonException)
        {
        }
        Error(TaskErrorCodes.FineTuneConfigNotFound,
            $"{ItemType} '{item.Name}': the compiled configuration of '{config}' is not a JSON object; rebuild the project", location);
        return null;
    }

    /// <summary>
    /// Adds the item's metadata to the class's values by the one merge rule (<see cref="ItemMerge"/>): the item fills
    /// what the class leaves unset, a value set in both must agree (LM1009), and the output folder is the item's.
    /// </summary>
    private void ApplyMetadata(JobItem item, JsonObject job, string? config, Func<string, ItemLocation> at)
    {
        var classValues = (JsonObject)job.DeepClone();
        foreach (var (name, raw) in item.Metadata)
        {
            if (name.Equals(ConfigMetadata, StringComparison.OrdinalIgnoreCase)
                || name.Equals(CopyMetadata, StringComparison.OrdinalIgnoreCase)
                || LaunchSettings.MetadataNames.Contains(name, StringComparer.OrdinalIgnoreCase))
                continue;
            // Model is the short name of model_name_or_path.
            var field = name.Equals(ModelMetadata, StringComparison.OrdinalIgnoreCase)
                ? JobSchema.Find("model_name_or_path")
                : JobSchema.FindByPascalName(name);
            if (field is null)
            {
                if (Suggestion.Nearest(name, JobSchema.Fields.Select(f => f.PascalName)) is { } nearest)
                    Warning(TaskErrorCodes.FineTuneUnknownMetadata,
                        $"{ItemType} '{item.Name}': metadata '{name}' is not a fine-tune setting; did you mean '{nearest}'?", at(name));
                continue;
            }
            // Empty metadata is unset: item definitions declare every setting empty.
            if (raw.Trim().Length == 0) continue;
            if (FieldText.TryNormalize(field, field.Kind == FieldKind.Text ? raw.Trim() : raw) is not { } normalized)
            {
                Error(TaskErrorCodes.FineTuneMetadataInvalid,
                    $"{ItemType} '{item.Name}': {field.PascalName} expects {field.Expected}, got '{Shown(field, raw)}'", at(name));
                continue;
            }
            string? classText = classValues.TryGetPropertyValue(field.Name, out var classValue) ? InvariantText(classValue) : null;
            if (ItemMerge.Decide(field, classText, normalized) == MergeDecision.Conflict)
                Error(TaskErrorCodes.ItemValueConflict,
                    $"{ItemType} '{item.Name}': {name} '{Shown(field, normalized)}' disagrees with '{Shown(field, classText)}' set by config class '{config ?? item.Name}'; set it in one place",
                    at(name));
            else
                job[field.Name] = JsonNode.Parse(FieldText.ToJson(field, normalized));
        }
    }

    /// <summary>A class's JSON value as the invariant text the merge rule compares (null for JSON null).</summary>
    private static string? InvariantText(JsonNode? value) => value?.GetValueKind() switch
    {
        null or JsonValueKind.Null => null,
        JsonValueKind.String => value.GetValue<string>(),
        JsonValueKind.Number => FieldText.Number(value.GetValue<double>()),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        JsonValueKind.Object => string.Join(",", value.AsObject().Select(p => p.Key + "=" + FieldText.Number(p.Value!.GetValue<double>()))),
        _ => value.ToJsonString(),
    };

    /// <summary>A value as a message may show it: a credential (<see cref="SchemaField.IsSecret"/>) never reaches the build log.</summary>
    private static string? Shown(SchemaField field, string? value) => field.IsSecret && value is not null ? "<hidden>" : value;

    /// <summary>
    /// The item's launcher and distributed settings (<see cref="LaunchSettings"/>), merged with its class's
    /// <c>[Distributed]</c> values by the rule of every other setting: the item fills what the class leaves unset, and
    /// a value set in both must agree (LM1009).
    /// </summary>
    private LaunchSettings ResolveLaunch(JobItem item, JsonObject? classLaunch, string config, string outputDir, Func<string, ItemLocation> at)
    {
        var classValues = LaunchSettings.FromClassConfiguration(classLaunch);
        string Value(string name)
        {
            string itemValue = item.Get(name);
            string classValue = classValues.TryGetValue(name, out var v) ? v.Trim() : "";
            if (itemValue.Length > 0 && classValue.Length > 0 && !string.Equals(itemValue, classValue, StringComparison.OrdinalIgnoreCase))
                Error(TaskErrorCodes.ItemValueConflict,
                    $"{ItemType} '{item.Name}': {name} '{itemValue}' disagrees with '{classValue}' set by config class '{config}'; set it in one place", at(name));
            return itemValue.Length > 0 ? itemValue : classValue;
        }
        void Invalid(string name, string message) =>
            Error(TaskErrorCodes.FineTuneLaunchSettingsInvalid, $"{ItemType} '{item.Name}': {message}", at(name));
        int Count(string name)
        {
            string text = Value(name);
            if (text.Length == 0) return 1;
            if (int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int n) && n >= 1) return n;
            Invalid(name, $"{name} must be a whole number of at least 1, got '{text}'");
            return 1;
        }

        string launcherText = Value("Launcher") is { Length: > 0 } set ? set : _defaultLauncher.Length > 0 ? _defaultLauncher : LaunchSettings.Train;
        string[] launchers = [LaunchSettings.Train, LaunchSettings.Export];
        string? launcher = launchers.FirstOrDefault(l => string.Equals(l, launcherText, StringComparison.OrdinalIgnoreCase));
        if (launcher is null)
        {
            string? nearest = Suggestion.Nearest(launcherText, launchers);
            Error(TaskErrorCodes.FineTuneLauncherUnknown,
                $"{ItemType} '{item.Name}': Launcher '{launcherText}' is not a launcher (train: lm-tune trains here; export: write a folder that runs the job with accelerate or torchrun)" +
                (nearest is null ? "" : $"; did you mean '{nearest}'?"), at("Launcher"));
        }
        int processes = Count("NumProcesses"), machines = Count("NumMachines");
        string fsdpText = Value("Fsdp");
        bool fsdp = false;
        if (fsdpText.Length > 0 && !bool.TryParse(fsdpText, out fsdp)) Invalid("Fsdp", $"Fsdp must be true or false, got '{fsdpText}'");
        string? deepspeed = Value("Deepspeed") is { Length: > 0 } stage ? stage.ToLowerInvariant() : null;
        if (deepspeed is not null and not ("zero2" or "zero3"))
            Invalid("Deepspeed", $"Deepspeed must be zero2 or zero3 (DeepSpeed's ZeRO stage), got '{deepspeed}'");
        if (fsdp && deepspeed is not null)
            Invalid("Deepspeed", "Fsdp and Deepspeed each shard the model their own way: set one of them");

        string? resultDir = null;
        if (item.Get("ResultDir") is { Length: > 0 } result)
        {
            resultDir = AsFolder(ProjectPath.Full(result, _projectDirectory));
            if (!Directory.Exists(resultDir))
                Error(TaskErrorCodes.FineTuneResultDirNotFound,
                    $"{ItemType} '{item.Name}': ResultDir '{resultDir}' does not exist; point it at the output folder of the run made elsewhere (the one holding config.json and the weights)",
                    at("ResultDir"));
            else if (launcher == LaunchSettings.Export)
                Invalid("ResultDir", "ResultDir marks a job as trained elsewhere, Launcher=\"export\" writes the files to train it elsewhere: set one of them");
            // The build empties OutputDir before it adopts: a result inside it (or holding it) would be deleted first.
            else if (resultDir.StartsWith(outputDir, PathComparison) || outputDir.StartsWith(resultDir, PathComparison))
                Error(TaskErrorCodes.FineTuneOutputOverlap,
                    $"{ItemType} '{item.Name}': ResultDir '{resultDir}' overlaps the job's OutputDir '{outputDir}', which the build empties before it copies the result in; keep the result in a folder of its own",
                    at("ResultDir"));
        }
        string exportDir = AsFolder(ProjectPath.Full(
            item.Get("ExportDir") is { Length: > 0 } export ? export : Path.Combine(_jobRoot, item.Name + ".export"), _projectDirectory));
        if (launcher == LaunchSettings.Export && (exportDir.StartsWith(outputDir, PathComparison) || outputDir.StartsWith(exportDir, PathComparison)))
            Error(TaskErrorCodes.FineTuneOutputOverlap,
                $"{ItemType} '{item.Name}': ExportDir '{exportDir}' overlaps the job's OutputDir '{outputDir}'; give the export its own folder", at("ExportDir"));
        return new LaunchSettings
        {
            Launcher = launcher ?? LaunchSettings.Train, NumProcesses = processes, NumMachines = machines, Fsdp = fsdp,
            Deepspeed = deepspeed, ExportDir = exportDir, ResultDir = resultDir,
        };
    }

    private void CheckOutputPlace(JobItem item, string outputDir, IReadOnlyList<string> inputs, ItemLocation location)
    {
        string? problem =
            _projectDirectory.StartsWith(outputDir, PathComparison)
                ? "contains the project folder"
            : outputDir.StartsWith(_projectDirectory, PathComparison) && !_buildOutputRoots.Any(r => outputDir.StartsWith(r, PathComparison))
                ? "lies in the source tree (inside the project folder but outside obj/ and bin/)"
            : inputs.FirstOrDefault(i => i.StartsWith(outputDir, PathComparison)) is { } input
                ? $"holds the job's input '{input}'"
            : null;
        if (problem is not null)
            Error(TaskErrorCodes.FineTuneOutputInSourceTree,
                $"{ItemType} '{item.Name}': OutputDir '{outputDir}' {problem}; use the default obj/lm/{item.Name}/ or a folder outside the project",
                location);
    }

    private IReadOnlyList<ResolvedJob> ReportOverlaps(List<ResolvedJob> jobs)
    {
        var accepted = new List<ResolvedJob>();
        foreach (var job in jobs)
        {
            var other = accepted.FirstOrDefault(a =>
                a.OutputDir.StartsWith(job.OutputDir, PathComparison) || job.OutputDir.StartsWith(a.OutputDir, PathComparison));
            if (other is null)
            {
                accepted.Add(job);
                continue;
            }
            Error(TaskErrorCodes.FineTuneOutputOverlap,
                $"{ItemType} '{job.Name}': OutputDir '{job.OutputDir}' overlaps the OutputDir of '{other.Name}' ('{other.OutputDir}'); give each job its own folder",
                job.Location);
        }
        return accepted;
    }

    /// <summary>Schema order first (stable text for equal jobs), then any extra keys the class config carries.</summary>
    private static string Serialize(JsonObject job)
    {
        var ordered = new JsonObject();
        foreach (var field in JobSchema.Fields)
        {
            if (job.TryGetPropertyValue(field.Name, out var value)) ordered[field.Name] = value?.DeepClone();
        }
        foreach (var (key, value) in job)
        {
            if (!ordered.ContainsKey(key)) ordered[key] = value?.DeepClone();
        }
        return ordered.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    private static string MetadataNameOf(string field) => JobSchema.Find(field)!.PascalName;

    private static bool IsBlank(JsonObject job, string key) =>
        !job.TryGetPropertyValue(key, out var value) || value is null
        || (value.GetValueKind() == JsonValueKind.String && string.IsNullOrWhiteSpace(value.GetValue<string>()));

    private static string AsFolder(string path) =>
        path.EndsWith(Path.DirectorySeparatorChar) || path.EndsWith(Path.AltDirectorySeparatorChar) ? path : path + Path.DirectorySeparatorChar;

    private static StringComparison PathComparison =>
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    private int ErrorCount => _diagnostics.Count(d => !d.IsWarning);

    private void Error(string code, string message, ItemLocation location) => _diagnostics.Add(new JobDiagnostic(code, message, location));

    private void Warning(string code, string message, ItemLocation location) =>
        _diagnostics.Add(new JobDiagnostic(code, message, location, IsWarning: true));
}
