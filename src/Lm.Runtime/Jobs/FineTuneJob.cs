using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Lm.Runtime.Checkpoints;
using Lm.Runtime.Data;
using Lm.Runtime.Errors;
using Lm.Runtime.Models;
using Lm.Runtime.Training;
using Lm.Schema;
using Lm.Runtime.Files;

namespace Lm.Runtime.Jobs;

/// <summary>
/// One fine-tune job: model, data and training arguments, the single schema behind the CLI flags, the
/// <c>--config job.json</c> file (flat, HF's snake_case names, as <c>HfArgumentParser.parse_json_file</c> reads for
/// run_clm.py), MSBuild item metadata and the source generator's attributed classes.
/// </summary>
public sealed class FineTuneJob
{
    public ModelArguments Model { get; init; } = new();
    public DataArguments Data { get; init; } = new();
    public TrainingArguments Training { get; init; } = new();

    /// <summary>Every field of the schema, in section order (model, data, training).</summary>
    public static IReadOnlyList<JobField> Fields { get; } = BuildFields();

    private static readonly Dictionary<string, JobField> FieldsByName = Fields.ToDictionary(f => f.Name);

    private static readonly JsonSerializerOptions SerializerOptions = new()
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>Finds a field by HF name (<c>learning_rate</c>), CLI flag (<c>--learning-rate</c>) or Pascal name (<c>LearningRate</c>).</summary>
    public static JobField? FindField(string name)
    {
        string key = name.StartsWith("--", StringComparison.Ordinal) ? name[2..].Replace('-', '_') : name;
        if (FieldsByName.TryGetValue(key, out var field)) return field;
        return Fields.FirstOrDefault(f => string.Equals(f.PascalName, key, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>The schema name closest to <paramref name="unknown"/>, for "did you mean" messages.</summary>
    public static string? NearestFieldName(string unknown) => Suggestion.Nearest(unknown, Fields.Select(f => f.Name));

    /// <summary>Reads a job from a flat JSON object with HF names; unknown keys and wrong types are LM errors.</summary>
    public static FineTuneJob FromJson(JsonObject json)
    {
        var sections = new Dictionary<string, JsonObject>
        {
            ["model"] = new(), ["data"] = new(), ["training"] = new(),
        };
        // A lone surrogate escape would surface as an InvalidOperationException deep inside deserialization.
        JsonFields.RequireText(json, "job configuration", ErrorCodes.ArgumentTypeMismatch);
        foreach (var (key, value) in json)
        {
            if (!FieldsByName.TryGetValue(key, out var field))
            {
                string? nearest = NearestFieldName(key);
                throw new LmException(ErrorCodes.UnknownArgument,
                    $"unknown argument '{key}'" + (nearest is null ? "" : $"; did you mean '{nearest}'?"));
            }
            sections[field.Section][key] = value?.DeepClone();
        }
        return new FineTuneJob
        {
            Model = Deserialize<ModelArguments>(sections["model"]),
            Data = Deserialize<DataArguments>(sections["data"]),
            Training = Deserialize<TrainingArguments>(sections["training"]),
        };
    }

    /// <summary>Parses JSON text; <paramref name="source"/> names the file in errors.</summary>
    public static FineTuneJob FromJson(string json, string source = "job configuration") =>
        FromJson(ParseObject(json, source));

    /// <summary>Reads a <c>job.json</c> file.</summary>
    public static FineTuneJob Load(string path)
    {
        if (!File.Exists(path))
            throw new LmException(ErrorCodes.JobConfigUnreadable, $"job configuration '{path}' does not exist") { File = path };
        return FromJson(File.ReadAllText(path), path);
    }

    /// <summary>Parses a flat JSON object, reporting the line of a syntax error.</summary>
    public static JsonObject ParseObject(string json, string source)
    {
        try
        {
            return JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }) as JsonObject
                ?? throw new LmException(ErrorCodes.JobConfigUnreadable, $"{source}: expected a JSON object") { File = source };
        }
        catch (JsonException e)
        {
            throw new LmException(ErrorCodes.JobConfigUnreadable,
                $"{source}: invalid JSON at line {(e.LineNumber ?? 0) + 1}: {e.Message}") { File = source, Line = (int)(e.LineNumber ?? 0) + 1 };
        }
    }

    /// <summary>The job as one flat JSON object with every field (defaults included), HF names.</summary>
    public JsonObject ToJsonObject()
    {
        var result = new JsonObject();
        foreach (var (section, value) in new (string, object)[] { ("model", Model), ("data", Data), ("training", Training) })
        {
            var node = JsonSerializer.SerializeToNode(value, value.GetType(), SerializerOptions)!.AsObject();
            foreach (var field in Fields.Where(f => f.Section == section))
                result[field.Name] = node[field.Name]?.DeepClone();
        }
        return result;
    }

    /// <summary>The job as indented JSON text (stable field order, so equal jobs give equal bytes).</summary>
    public string ToJson() => ToJsonObject().ToJsonString(SerializerOptions);

    /// <summary>
    /// Runs the job in this process as <c>lm-tune train</c> would (see <see cref="JobRunner.RunAsync"/>): train,
    /// evaluate when asked, write the output folder; <paramref name="progress"/> hears each stage, log line and
    /// warning. Relative paths are relative to the current directory.
    /// </summary>
    public JobResult Run(IProgress<JobProgress>? progress = null, CancellationToken cancellationToken = default) =>
        JobRunner.Run(this, progress, cancellationToken);

    /// <inheritdoc cref="Run"/>
    public Task<JobResult> RunAsync(IProgress<JobProgress>? progress = null, CancellationToken cancellationToken = default) =>
        JobRunner.RunAsync(this, progress, cancellationToken);

    /// <summary>
    /// Checks the arguments of all three sections. Training arguments are checked as HF checks them;
    /// model and data arguments as run_clm.py / run_mlm.py do.
    /// </summary>
    public void Validate()
    {
        Training.Validate();
        Require(!string.IsNullOrWhiteSpace(Model.ModelNameOrPath) || !string.IsNullOrWhiteSpace(Model.ModelType)
                || !string.IsNullOrWhiteSpace(Model.ConfigName),
            "model_name_or_path", "is required (a model folder, hub id or preset such as tiny-gpt2)");
        // A model from scratch (no model_name_or_path, or a tiny-* preset) takes config_overrides; pretrained weights do not.
        Model.CheckConfigOptions(randomInit: string.IsNullOrWhiteSpace(Model.ModelNameOrPath)
            || (Model.ModelNameOrPath.StartsWith("tiny-", StringComparison.OrdinalIgnoreCase) && ModelPresets.Contains(Model.ModelNameOrPath)
                && !Directory.Exists(Model.ModelNameOrPath)));
        Require(Model.Objective is null or "clm" or "mlm", "objective", $"must be clm or mlm, got '{Model.Objective}'");
        Require(Model.Device is "auto" or "cpu" or "cuda" || Model.Device.StartsWith("cuda:", StringComparison.Ordinal),
            "device", $"must be auto, cpu, cuda or cuda:N, got '{Model.Device}'");
        Require(Model.TorchDtype is null or "float32" or "bfloat16" or "auto", "torch_dtype",
            $"must be float32, bfloat16 or auto, got '{Model.TorchDtype}'");
        // LoRA (PEFT's LoraConfig checks its own values only when the adapter is built; checked here with the others).
        Require(Model.LoraR > 0, "lora_r", $"must be positive, got {Model.LoraR}");
        Require(Model.LoraAlpha > 0 && double.IsFinite(Model.LoraAlpha), "lora_alpha", $"must be positive, got {Model.LoraAlpha}");
        Require(Model.LoraDropout is >= 0 and < 1, "lora_dropout", $"must be in [0, 1), got {Model.LoraDropout}");
        if (Training.DoTrain)
            Require(Data.TrainFile is not null || Data.DatasetName is not null, "train_file",
                "is required for training (or dataset_name)");
        Require(Data.BlockSize is null || Data.BlockSize > 0, "block_size", $"must be positive, got {Data.BlockSize}");
        Require(Data.MaxSeqLength is null || Data.MaxSeqLength > 0, "max_seq_length", $"must be positive, got {Data.MaxSeqLength}");
        Require(Data.MlmProbability is > 0 and < 1, "mlm_probability", $"must be in (0, 1), got {Data.MlmProbability}");
        Require(Data.ValidationSplitPercentage is >= 0 and < 100, "validation_split_percentage",
            $"must be in [0, 100), got {Data.ValidationSplitPercentage}");
        Require(Data.MaxTrainSamples is null || Data.MaxTrainSamples > 0, "max_train_samples", $"must be positive, got {Data.MaxTrainSamples}");
        Require(Data.MaxEvalSamples is null || Data.MaxEvalSamples > 0, "max_eval_samples", $"must be positive, got {Data.MaxEvalSamples}");
        Require(Data.GroupBatchSize > 0, "group_batch_size", $"must be positive, got {Data.GroupBatchSize}");
        Require(Data.PreprocessingNumWorkers is null || Data.PreprocessingNumWorkers > 0, "preprocessing_num_workers",
            $"must be positive, got {Data.PreprocessingNumWorkers}");
        Require(Data.PadToMultipleOf is null || Data.PadToMultipleOf > 0, "pad_to_multiple_of", $"must be positive, got {Data.PadToMultipleOf}");
        // Chat and instruction data.
        Require(Data.DatasetFormat is "auto" or "text" or "messages" or "prompt_completion" or "instruction", "dataset_format",
            $"must be auto, text, messages, prompt_completion or instruction, got '{Data.DatasetFormat}'");
        Require(Data.PackingStrategy is "bfd" or "wrapped", "packing_strategy", $"must be bfd or wrapped, got '{Data.PackingStrategy}'");
    }

    /// <summary>The objective: explicit, else from the model type (gpt2, llama, qwen2, mistral → clm; roberta, bert → mlm).</summary>
    public static string ObjectiveFor(string? explicitObjective, string modelType) => ModelSource.ObjectiveFor(explicitObjective, modelType);

    private static void Require(bool condition, string name, string problem)
    {
        if (!condition) throw new LmException(ErrorCodes.InvalidArgument, $"{name} {problem}");
    }

    private static T Deserialize<T>(JsonObject section) where T : new()
    {
        try
        {
            return section.Deserialize<T>(SerializerOptions) ?? new T();
        }
        catch (JsonException e)
        {
            string name = e.Path?.TrimStart('$', '.') ?? "a value";
            string expected = FieldsByName.TryGetValue(name, out var field) ? field.Kind switch
            {
                JobFieldKind.Integer => "a whole number",
                JobFieldKind.Number => "a number",
                JobFieldKind.Boolean => "true or false",
                JobFieldKind.Map => "an object of numbers",
                _ => "text",
            } : "another type";
            throw new LmException(ErrorCodes.ArgumentTypeMismatch, $"{name} expects {expected}, got {section[name]?.ToJsonString() ?? "null"}");
        }
    }

    private static List<JobField> BuildFields()
    {
        var sections = new Dictionary<string, Type>
        {
            [JobSchema.Model] = typeof(ModelArguments),
            [JobSchema.Data] = typeof(DataArguments),
            [JobSchema.Training] = typeof(TrainingArguments),
        };
        return JobSchema.Fields.Select(f => JobField.FromSchema(f, sections[f.Section])).ToList();
    }
}
