using System.Globalization;
using System.Reflection;
using System.Text.Json;
using Lm.Runtime.Errors;
using Lm.Runtime.Files;
using Lm.Runtime.Hub;
using Lm.Runtime.Models;
using Lm.Runtime.Native;
using Lm.Runtime.Models.Lora;
using Lm.Runtime.Tokenization;
using TorchSharp;

namespace Lm.Runtime.Configuration;

/// <summary>
/// The files a fine-tune job's training run leaves (HF's output folder: model, tokenizer, results,
/// <c>checkpoint-N</c> folders), found at run time. The generator gives every <c>[FineTuneJob]</c> class an
/// <c>Artifacts</c> property of this type, so app code reaches its fine-tuned model without string paths.
/// </summary>
public sealed class JobArtifacts
{
    /// <summary>
    /// Prefix of the <see cref="AssemblyMetadataAttribute"/> key through which the build records a job's output
    /// folder: <c>[assembly: AssemblyMetadata("LmJobOutput:wiki-gpt2", "lm/wiki-gpt2")]</c>. A relative value is
    /// resolved against the app's base directory.
    /// </summary>
    public const string OutputMetadataPrefix = "LmJobOutput:";

    /// <summary>The output folder when the assembly records none: <c>&lt;app base directory&gt;/lm/&lt;job name&gt;</c>.</summary>
    public const string DefaultOutputFolder = "lm";

    private JobArtifacts(string jobName, string outputDirectory)
    {
        JobName = jobName;
        OutputDirectory = outputDirectory;
    }

    /// <summary>The job name (the <c>&lt;LanguageModelFineTune&gt;</c> item's Include).</summary>
    public string JobName { get; }

    /// <summary>Absolute path of the job's output folder (HF's <c>output_dir</c>).</summary>
    public string OutputDirectory { get; }

    /// <summary>The folder holding the final model (config.json, model.safetensors, tokenizer files); HF saves it at the output folder's root.</summary>
    public string ModelDirectory => OutputDirectory;

    /// <summary><c>all_results.json</c>: train and eval metrics of the last run, as run_clm.py writes them.</summary>
    public string MetricsFile => Path.Combine(OutputDirectory, "all_results.json");

    /// <summary>
    /// Whether a trained model is there: its <c>config.json</c> and <c>model.safetensors</c> (or the index of its shards), or for a LoRA job the
    /// adapter (<see cref="IsAdapter"/>).
    /// </summary>
    public bool IsTrained =>
        (File.Exists(Path.Combine(ModelDirectory, "config.json"))
         && (File.Exists(Path.Combine(ModelDirectory, "model.safetensors")) || File.Exists(Path.Combine(ModelDirectory, "model.safetensors.index.json"))))
        || IsAdapter;

    /// <summary>Whether the job trained a LoRA adapter: PEFT's <c>adapter_config.json</c> and <c>adapter_model.safetensors</c> are there.</summary>
    public bool IsAdapter =>
        File.Exists(Path.Combine(ModelDirectory, LoraConfig.ConfigFile)) && File.Exists(Path.Combine(ModelDirectory, LoraConfig.WeightsFile));

    /// <summary>The artifacts of <paramref name="jobName"/>, at the folder <paramref name="assembly"/> records for it (or the default).</summary>
    public static JobArtifacts For(Assembly assembly, string jobName)
    {
        string key = OutputMetadataPrefix + jobName;
        string? recorded = assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => string.Equals(a.Key, key, StringComparison.Ordinal))?.Value;
        return At(jobName, string.IsNullOrEmpty(recorded) ? Path.Combine(DefaultOutputFolder, jobName) : recorded);
    }

    /// <summary>The artifacts of <paramref name="jobName"/> in <paramref name="outputDirectory"/> (relative: to the app's base directory).</summary>
    public static JobArtifacts At(string jobName, string outputDirectory) =>
        new(jobName, Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, outputDirectory)));

    /// <summary>The <c>checkpoint-N</c> folders of the run, oldest (smallest N) first.</summary>
    public IReadOnlyList<string> GetCheckpoints()
    {
        if (!Directory.Exists(OutputDirectory)) return Array.Empty<string>();
        return Directory.GetDirectories(OutputDirectory, "checkpoint-*")
            .Select(path => (Path: path, Step: StepOf(Path.GetFileName(path))))
            .Where(c => c.Step >= 0)
            .OrderBy(c => c.Step)
            .Select(c => c.Path)
            .ToArray();
    }

    /// <summary>
    /// Loads the fine-tuned model (in eval mode) onto <paramref name="device"/> (<c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>,
    /// <c>auto</c>) in <paramref name="dtype"/> (<c>float32</c>, <c>bfloat16</c>, <c>auto</c>). Throws LM1101 when the
    /// job has not been trained. Loads libtorch first as lm-tune does (<see cref="TorchRuntime.EnsureLoaded"/>: the
    /// native bridge on older Linux C++ runtimes, heap and MKL tuning), so an app needs no setup call of its own;
    /// LM0001 explains a missing native package.
    /// </summary>
    /// <remarks>
    /// For a LoRA job the model is the base with the adapter applied (PEFT's <c>PeftModel.from_pretrained</c>, frozen):
    /// the base is <paramref name="baseModel"/> when given, else the adapter's <c>base_model_name_or_path</c>: a model
    /// folder, a <c>tiny-*</c> preset (initialised with the run's seed from training_args.json, as the run built it),
    /// or a hub id (from the hub cache, downloaded when missing).
    /// </remarks>
    public LanguageModel LoadModel(string device = "cpu", string dtype = "float32", string? baseModel = null)
    {
        RequireTrained();
        TorchRuntime.EnsureLoaded();
        if (!IsAdapter) return PretrainedModel.Load(ModelDirectory, device, dtype);
        var model = LoadAdapterBase(baseModel ?? LoraConfig.Load(ModelDirectory).BaseModelNameOrPath, device, dtype);
        try
        {
            LoraModel.Load(model, ModelDirectory, isTrainable: false);
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private LanguageModel LoadAdapterBase(string? name, string device, string dtype)
    {
        if (string.IsNullOrWhiteSpace(name))
            throw new LmException(ErrorCodes.LoraConfigInvalid,
                $"the adapter of job '{JobName}' names no base model (base_model_name_or_path); pass the base model's folder to LoadModel")
            { File = Path.Combine(ModelDirectory, LoraConfig.ConfigFile) };
        if (Directory.Exists(name)) return PretrainedModel.Load(name, device, dtype);
        if (name.StartsWith("tiny-", StringComparison.OrdinalIgnoreCase) && ModelPresets.Contains(name))
        {
            var config = ModelPresets.Config(name);
            var model = LanguageModel.Create(config, RunSeed());
            var scalarType = ModelDtype.Parse(dtype, config);
            var target = ModelDevice.Parse(device);
            if (scalarType != TorchSharp.torch.ScalarType.Float32 || target.type != TorchSharp.DeviceType.CPU) model.to(target, scalarType);
            return model;
        }
        string folder = ModelLocator.ResolveAsync(name, "main", HubSettings.FromEnvironment(), _ => { }, CancellationToken.None)
            .GetAwaiter().GetResult();
        return PretrainedModel.Load(folder, device, dtype);
    }

    /// <summary>The seed of the run (training_args.json), which drew a preset base's weights; HF's default 42 without it.</summary>
    private long RunSeed()
    {
        string path = Path.Combine(ModelDirectory, "training_args.json");
        return File.Exists(path) ? JsonFields.Read(path, ErrorCodes.JobResultsMissing).Long("seed") ?? 42 : 42;
    }

    /// <summary>Loads the tokenizer saved with the fine-tuned model. Throws LM1101 when the job has not been trained.</summary>
    public LmTokenizer LoadTokenizer()
    {
        RequireTrained();
        return LmTokenizer.FromPretrained(ModelDirectory);
    }

    /// <summary>
    /// The numeric metrics of <see cref="MetricsFile"/> (<c>train_loss</c>, <c>eval_loss</c>, <c>perplexity</c>,
    /// <c>train_runtime</c>, ...). Throws LM1101 when the job has not been trained.
    /// </summary>
    public IReadOnlyDictionary<string, double> ReadMetrics()
    {
        if (!File.Exists(MetricsFile)) throw NotTrained(MetricsFile);
        using var document = JsonDocument.Parse(File.ReadAllText(MetricsFile));
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var property in document.RootElement.EnumerateObject())
        {
            if (property.Value.ValueKind == JsonValueKind.Number) metrics[property.Name] = property.Value.GetDouble();
        }
        return metrics;
    }

    private void RequireTrained()
    {
        if (!IsTrained) throw NotTrained(Path.Combine(ModelDirectory, "model.safetensors"));
    }

    private LmException NotTrained(string missing) =>
        new(ErrorCodes.JobResultsMissing,
            $"job '{JobName}' has no results at '{missing}'; build the project to train it (LmSkipFineTune must not be true)")
        { File = missing };

    private static long StepOf(string folderName) =>
        long.TryParse(folderName.AsSpan("checkpoint-".Length), NumberStyles.None, CultureInfo.InvariantCulture, out long step) ? step : -1;
}
