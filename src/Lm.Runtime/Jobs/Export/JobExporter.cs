using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Jobs.Export;

/// <summary>
/// <c>lm-tune export</c>: writes a folder that runs a fine-tune job with the Python stack — transformers'
/// <c>Trainer</c> under <c>accelerate launch</c> or <c>torchrun</c>, on one machine or a cluster — so that a job that
/// outgrows one machine keeps the .NET job as its single source of truth. The arguments go to
/// <c>training_args.json</c> under HF's names, loadable by <c>HfArgumentParser</c> with run_clm.py's (or run_mlm.py's)
/// dataclasses; a value the Python stack cannot express is an error naming it, never dropped.
/// </summary>
public static class JobExporter
{
    /// <summary>The name of the arguments file, as run_clm.py takes it (<c>python run_clm.py training_args.json</c>).</summary>
    public const string ArgumentsFile = "training_args.json";

    /// <summary>The job as lm-tune read it, kept for provenance and for taking the result back.</summary>
    public const string JobFile = "lm-tune-job.json";

    // Written even at HF's default: the run's identity (where, what, which seed) and report_to, whose default
    // differs between transformers 4.x ("all") and 5.x ("none").
    private static readonly HashSet<string> AlwaysWritten = new(StringComparer.Ordinal)
    {
        "output_dir", "do_train", "do_eval", "seed", "report_to",
    };

    /// <summary>Writes the export folder for <paramref name="job"/>; the folder must not exist or be empty.</summary>
    public static ExportResult Export(FineTuneJob job, ExportModel model, string folder, ExportOptions options)
    {
        CheckOptions(options);
        string objective = ObjectiveOf(job, model);
        RequireEmptyFolder(folder);
        var notes = new List<string>();
        var inputs = new InputCopier(folder, options.CopyInputs);
        bool trl = TrlExport.Applies(job.ToJsonObject());
        JsonObject arguments = trl
            ? TrlExport.Config(job, objective, model, inputs, options, notes)
            : TrainingArguments(job, objective, model, inputs, options, notes);
        string jobName = JobName(options.JobName ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(job.Training.OutputDir)));
        string[] entry = LaunchFiles.Entry(objective, trl);

        var files = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            // The job goes to another machine: never with a token (the note below says to set HF_TOKEN there).
            [JobFile] = WithoutToken(job) + "\n",
            ["launch.sh"] = LaunchFiles.LaunchScript(entry, options),
            ["accelerate_config.yaml"] = LaunchFiles.AccelerateConfig(options, job.Training.Bf16),
            ["requirements.txt"] = LaunchFiles.Requirements(options, trl),
            ["Dockerfile"] = LaunchFiles.Dockerfile(options, jobName),
        };
        if (trl)
        {
            files[TrlExport.ConfigFile] = TrlExport.Yaml(arguments);
        }
        else
        {
            files[ArgumentsFile] = Indented(arguments);
            files["train.py"] = LaunchFiles.TrainScript();
        }
        if (options.DeepSpeedStage is int stage) files["ds_config.json"] = Indented(LaunchFiles.DeepSpeedConfig(stage));
        switch (options.Target)
        {
            case ExportTarget.Kubeflow: files["kubeflow-trainjob.yaml"] = LaunchFiles.KubeflowTrainJob(jobName, entry, options); break;
            case ExportTarget.AzureMl: files["azureml-job.yaml"] = LaunchFiles.AzureMlJob(jobName, entry, options); break;
            case ExportTarget.Slurm: files["slurm.sbatch"] = LaunchFiles.SlurmScript(jobName, options); break;
        }
        if (options.NumProcesses * options.NumMachines > 1)
            notes.Add($"the global batch is {options.NumProcesses * options.NumMachines} processes x per_device_train_batch_size " +
                      $"{job.Training.PerDeviceTrainBatchSize} x gradient_accumulation_steps {job.Training.GradientAccumulationSteps}; " +
                      "on one machine lm-tune trains with one process");
        files["README.md"] = LaunchFiles.Readme(jobName, objective, trl, options, arguments, notes);

        Directory.CreateDirectory(folder);
        var copied = inputs.CopyAll();
        foreach (var (name, text) in files)
            File.WriteAllText(Path.Combine(folder, name), text.ReplaceLineEndings("\n"));
        if (!OperatingSystem.IsWindows())
        {
            foreach (string script in new[] { "launch.sh", "train.py", "slurm.sbatch" }.Where(files.ContainsKey))
                File.SetUnixFileMode(Path.Combine(folder, script), (UnixFileMode)Convert.ToInt32("755", 8));
        }
        var written = files.Keys.Concat(copied).Order(StringComparer.Ordinal).ToList();
        return new ExportResult(Path.GetFullPath(folder), objective, written, notes);
    }

    /// <summary>
    /// The job's arguments under HF's names for run_clm.py/run_mlm.py + <c>TrainingArguments</c>: every value that
    /// differs from HF's default (lm-tune's defaults are HF's), plus the run's identity. Local paths become paths
    /// inside the export folder (or absolute paths without copying).
    /// </summary>
    public static JsonObject TrainingArguments(FineTuneJob job, string objective, ExportModel model, InputCopier inputs,
        ExportOptions options, ICollection<string> notes)
    {
        JsonObject values = job.ToJsonObject();
        JsonObject defaults = new FineTuneJob().ToJsonObject();
        var result = new JsonObject();
        var unexpressible = new List<string>();
        bool fresh = IsFreshModel(job);

        foreach (var field in FineTuneJob.Fields)
        {
            string name = field.Name;
            JsonNode? value = values[name];
            bool isDefault = JsonNode.DeepEquals(value, defaults[name]);
            switch (name)
            {
                case "objective":
                    break; // decides the script (train.py --objective, or run_clm.py vs run_mlm.py)
                case "device":
                    string device = job.Model.Device;
                    if (device == "cpu") result["use_cpu"] = true;
                    else if (device.StartsWith("cuda:", StringComparison.Ordinal) && device != "cuda:0")
                        notes.Add($"device {device}: the launcher assigns GPUs (CUDA_VISIBLE_DEVICES picks them)");
                    break;
                case "torch_dtype":
                    if (value is null) break;
                    if (objective == "clm") result["dtype"] = value.DeepClone();
                    else unexpressible.Add($"torch_dtype (run_mlm.py loads the model in float32)");
                    break;
                case "model_name_or_path" or "model_type" or "config_name" or "config_overrides" or "tokenizer_name":
                    break; // below, together
                case "train_file" or "validation_file":
                    if (value is not null) result[name] = inputs.File(name, value.GetValue<string>());
                    break;
                case "text_column":
                    if (value is not null && value.GetValue<string>() != "text")
                        unexpressible.Add("text_column (run_clm.py/run_mlm.py read the column named 'text', else the first)");
                    break;
                case "group_batch_size":
                    if (!isDefault) unexpressible.Add("group_batch_size (run_clm.py groups map batches of 1,000 rows)");
                    break;
                case "global_concatenation" or "whole_word_mask" or "pad_to_multiple_of" or "early_stopping_patience" or "early_stopping_threshold":
                    if (!isDefault) unexpressible.Add($"{name} (no run_clm.py/run_mlm.py or TrainingArguments equivalent)");
                    break;
                case "keep_linebreaks":
                    if (objective == "clm" && !isDefault) result[name] = value!.DeepClone();
                    break; // run_mlm.py, like lm-tune's masked LM, drops line breaks
                case "block_size":
                    if (value is null) break;
                    if (objective == "clm") result[name] = value.DeepClone();
                    else if (job.Data.MaxSeqLength is null) result["max_seq_length"] = value.DeepClone(); // lm-tune's mlm fallback
                    break;
                case "max_seq_length" or "mlm_probability" or "line_by_line" or "pad_to_max_length":
                    if (objective == "mlm" && !isDefault) result[name] = value!.DeepClone();
                    break; // lm-tune's causal LM does not read them either
                case "cache_dir":
                    if (value is not null) notes.Add("cache_dir is a path on this machine and is not exported; HF_HOME sets the cache there");
                    break;
                case "overwrite_output_dir":
                    break; // the export's output folder starts empty; transformers 5 has no such argument
                case "output_dir":
                    result[name] = OutputDir(job.Training.OutputDir, options, notes);
                    break;
                case "logging_dir":
                    if (value is null) break;
                    if (Path.IsPathRooted(value.GetValue<string>())) notes.Add("logging_dir is an absolute path on this machine; TensorBoard logs go to the output folder's runs/");
                    else result[name] = value.DeepClone();
                    break;
                case "resume_from_checkpoint":
                    if (value is not null)
                        unexpressible.Add("resume_from_checkpoint (lm-tune checkpoints hold safetensors optimizer state; transformers' Trainer resumes only from its own checkpoints)");
                    break;
                case "hub_token":
                    if (value is not null) notes.Add("hub_token is not written to the export; set HF_TOKEN where the job runs");
                    break;
                case "do_train":
                    result[name] = true;
                    break;
                case "do_eval":
                    result[name] = job.Training.DoEval || job.Training.EvalStrategy != Training.IntervalStrategy.No;
                    break;
                default:
                    if (HfScriptArguments.Accepts(objective, name))
                    {
                        if (!isDefault || AlwaysWritten.Contains(name)) result[name] = value?.DeepClone();
                    }
                    else if (!isDefault)
                    {
                        unexpressible.Add($"{name} (no run_clm.py/run_mlm.py or TrainingArguments equivalent)");
                    }
                    break;
            }
        }

        ModelArguments(job, fresh, model, inputs, result);
        if (options.Fsdp)
        {
            result["fsdp"] = "full_shard auto_wrap";
            var fsdpConfig = new JsonObject
            {
                ["backward_prefetch"] = "backward_pre",
                ["use_orig_params"] = true,
                ["sync_module_states"] = true,
                ["cpu_ram_efficient_loading"] = true,
            };
            if (HfScriptArguments.DecoderLayerClass(model.ModelType) is string layer)
                fsdpConfig["transformer_layer_cls_to_wrap"] = new JsonArray(layer);
            result["fsdp_config"] = fsdpConfig;
        }
        if (options.DeepSpeedStage is not null) result["deepspeed"] = "ds_config.json";

        if (unexpressible.Count > 0)
            throw new LmException(ErrorCodes.ExportUnexpressible,
                "the job sets values the Python stack cannot express: " + string.Join("; ", unexpressible) +
                ". Leave them at their defaults to export the job");
        return Sorted(result);
    }

    private static void ModelArguments(FineTuneJob job, bool fresh, ExportModel model, InputCopier inputs, JsonObject result)
    {
        var args = job.Model;
        if (fresh)
        {
            // A random initialisation: lm-tune writes the config (overrides applied) and tokenizer it would start
            // from, and the Python stack initialises from that config (AutoModel.from_config), as run_clm.py does.
            string relative = inputs.FreshModel(model.WriteFreshModelFolder
                ?? throw new LmException(ErrorCodes.InvalidArgument, "a random initialisation needs its config to export"));
            result["config_name"] = relative;
            result["tokenizer_name"] = args.TokenizerName is { } tokenizer ? inputs.Folder(tokenizer, "tokenizer") : relative;
            return;
        }
        result["model_name_or_path"] = inputs.Folder(args.ModelNameOrPath!, "model");
        if (args.ModelRevision != "main") result["model_revision"] = args.ModelRevision;
        if (args.ConfigName is { } config) result["config_name"] = inputs.Folder(config, "config");
        if (args.TokenizerName is { } tokenizerName) result["tokenizer_name"] = inputs.Folder(tokenizerName, "tokenizer");
        if (args.ConfigOverrides is not null)
            throw new LmException(ErrorCodes.ExportUnexpressible, "config_overrides applies to a model trained from scratch only (run_clm.py refuses it with model_name_or_path)");
    }

    /// <summary>Whether the job starts from random weights: no model, or a <c>tiny-*</c> preset.</summary>
    public static bool IsFreshModel(FineTuneJob job) =>
        string.IsNullOrWhiteSpace(job.Model.ModelNameOrPath)
        || (!Directory.Exists(job.Model.ModelNameOrPath)
            && job.Model.ModelNameOrPath.StartsWith("tiny-", StringComparison.OrdinalIgnoreCase)
            && Models.ModelPresets.Contains(job.Model.ModelNameOrPath));

    private static string ObjectiveOf(FineTuneJob job, ExportModel model)
    {
        if (job.Model.Objective is { } objective) return objective;
        if (model.ModelType is null)
            throw new LmException(ErrorCodes.ExportOptionInvalid,
                $"the model type of '{job.Model.ModelNameOrPath}' is not known on this machine (not a local folder nor in the hub cache); pass --objective clm or mlm");
        return FineTuneJob.ObjectiveFor(null, model.ModelType);
    }

    private static string OutputDir(string outputDir, ExportOptions options, ICollection<string> notes)
    {
        // Azure ML uploads what a job writes under ./outputs; elsewhere the job writes where it runs.
        string exported = options.Target == ExportTarget.AzureMl ? "outputs" : "output";
        if (!Path.IsPathRooted(outputDir) && options.Target != ExportTarget.AzureMl && !outputDir.Split('/', '\\').Contains(".."))
            return outputDir;
        notes.Add($"output_dir {outputDir} is written as {exported}/ inside the export folder; copy it back to use the result");
        return exported;
    }

    private static void CheckOptions(ExportOptions options)
    {
        if (options.NumProcesses < 1 || options.NumMachines < 1)
            throw new LmException(ErrorCodes.ExportOptionInvalid, "--num-processes and --num-machines must be at least 1");
        if (options.Fsdp && options.DeepSpeedStage is not null)
            throw new LmException(ErrorCodes.ExportOptionInvalid, "choose one of --fsdp and --deepspeed");
        if (options.DeepSpeedStage is not (null or 2 or 3))
            throw new LmException(ErrorCodes.ExportOptionInvalid, "--deepspeed takes zero2 or zero3");
    }

    private static void RequireEmptyFolder(string folder)
    {
        if (File.Exists(folder))
            throw new LmException(ErrorCodes.ExportFolderNotEmpty, $"{folder} is a file; export into a new or empty folder") { File = folder };
        if (Directory.Exists(folder) && Directory.EnumerateFileSystemEntries(folder).Any())
            throw new LmException(ErrorCodes.ExportFolderNotEmpty, $"{folder} is not empty; export into a new or empty folder") { File = folder };
    }

    /// <summary>A name Kubernetes, Azure ML and Slurm accept: lower-case letters, digits and '-', at most 63 characters.</summary>
    public static string JobName(string? text)
    {
        var chars = (text ?? "").ToLowerInvariant().Select(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') ? c : '-').ToArray();
        string name = new string(chars).Trim('-');
        while (name.Contains("--", StringComparison.Ordinal)) name = name.Replace("--", "-", StringComparison.Ordinal);
        if (name.Length == 0 || !char.IsAsciiLetter(name[0])) name = "lm-tune-" + name;
        return name.Length > 63 ? name[..63].TrimEnd('-') : name.TrimEnd('-');
    }

    private static JsonObject Sorted(JsonObject json)
    {
        var sorted = new JsonObject();
        foreach (var (key, value) in json.OrderBy(p => p.Key, StringComparer.Ordinal)) sorted[key] = value?.DeepClone();
        return sorted;
    }

    internal static string Indented(JsonNode json) =>
        json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";

    internal static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string WithoutToken(FineTuneJob job)
    {
        var json = job.ToJsonObject();
        json["hub_token"] = null;
        return json.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }
}
