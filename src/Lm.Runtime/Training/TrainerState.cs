using System.Text.Json.Nodes;
using Lm.Runtime.Checkpoints;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Training;

/// <summary>
/// HF's <c>TrainerState</c> (transformers 4.57), written as <c>trainer_state.json</c> with the same keys, value
/// types and layout (<c>json.dumps(indent=2, sort_keys=True)</c> plus a newline), so tools that read HF's file read
/// ours. <see cref="LogHistory"/> holds every log, evaluation and the final training summary, each with its
/// <c>step</c>.
/// </summary>
public sealed class TrainerState
{
    /// <summary>Epochs done, fractional during an epoch (<c>epoch + (batch + 1) / batches_in_epoch</c>).</summary>
    public double? Epoch { get; set; }
    public int GlobalStep { get; set; }
    public int MaxSteps { get; set; }
    public int LoggingSteps { get; set; } = 500;
    public int EvalSteps { get; set; } = 500;
    public int SaveSteps { get; set; } = 500;
    public int? TrainBatchSize { get; set; }
    public int NumTrainEpochs { get; set; }
    public long NumInputTokensSeen { get; set; }
    public double TotalFlos { get; set; }
    public List<LogEntry> LogHistory { get; } = new();
    public double? BestMetric { get; set; }
    public int? BestGlobalStep { get; set; }
    public string? BestModelCheckpoint { get; set; }

    /// <summary>HF's <c>stateful_callbacks</c>: <c>TrainerControl</c> and, with early stopping, its counter.</summary>
    public JsonObject StatefulCallbacks { get; set; } = new();

    /// <summary>HF's <c>TrainerState.compute_steps</c>: ratios below 1 become <c>ceil(max_steps * ratio)</c>.</summary>
    public void ComputeSteps(TrainingArguments args, int maxSteps)
    {
        LoggingSteps = Absolute(args.LoggingSteps, maxSteps) ?? LoggingSteps;
        EvalSteps = Absolute(args.EffectiveEvalSteps, maxSteps) ?? EvalSteps;
        SaveSteps = Absolute(args.SaveSteps, maxSteps) ?? SaveSteps;
    }

    private static int? Absolute(double? steps, int maxSteps) => steps switch
    {
        null => null,
        < 1 => (int)Math.Ceiling(maxSteps * steps.Value),
        _ => (int)steps.Value,
    };

    /// <summary>The file's text: Python's <c>json.dumps(asdict(state), indent=2, sort_keys=True) + "\n"</c>.</summary>
    public string ToJson()
    {
        var history = new JsonArray();
        foreach (var entry in LogHistory) history.Add(entry.ToJson());
        var json = new JsonObject
        {
            ["best_global_step"] = BestGlobalStep,
            ["best_metric"] = PythonFloat(BestMetric),
            ["best_model_checkpoint"] = BestModelCheckpoint,
            ["epoch"] = EpochJson(Epoch, GlobalStep),
            ["eval_steps"] = EvalSteps,
            ["global_step"] = GlobalStep,
            ["is_hyper_param_search"] = false,
            ["is_local_process_zero"] = true,
            ["is_world_process_zero"] = true,
            ["log_history"] = history,
            ["logging_steps"] = LoggingSteps,
            ["max_steps"] = MaxSteps,
            ["num_input_tokens_seen"] = NumInputTokensSeen,
            ["num_train_epochs"] = NumTrainEpochs,
            ["save_steps"] = SaveSteps,
            ["stateful_callbacks"] = StatefulCallbacks.DeepClone(),
            ["total_flos"] = PythonFloat(TotalFlos),
            ["train_batch_size"] = TrainBatchSize,
            ["trial_name"] = null,
            ["trial_params"] = null,
        };
        return PythonJson.Serialize(json) + "\n";
    }

    /// <summary>Reads a <c>trainer_state.json</c> written by lm-tune or by HF.</summary>
    public static TrainerState Load(string path)
    {
        JsonObject json;
        try
        {
            // A repeated key would otherwise throw ArgumentException when the object is first read: reject it here as
            // bad JSON. Checking for repeats reads every key, so a key with an unpaired "\ud800" escape throws here too.
            json = JsonNode.Parse(File.ReadAllText(path), documentOptions: new System.Text.Json.JsonDocumentOptions { AllowDuplicateProperties = false }) as JsonObject
                ?? throw new LmException(ErrorCodes.CheckpointInvalid, $"{path}: expected a JSON object") { File = path };
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException)
        {
            throw new LmException(ErrorCodes.CheckpointInvalid, $"{path}: invalid JSON: {e.Message}", e) { File = path };
        }
        try
        {
            return FromJson(json);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            // JsonNode's typed reads (GetValue<T>) throw these when a value has another JSON kind.
            throw new LmException(ErrorCodes.CheckpointInvalid, $"{path}: a value has the wrong JSON type ({e.Message})", e) { File = path };
        }
    }

    private static TrainerState FromJson(JsonObject json)
    {
        var state = new TrainerState
        {
            Epoch = Double(json["epoch"]),
            GlobalStep = Int(json["global_step"]) ?? 0,
            MaxSteps = Int(json["max_steps"]) ?? 0,
            LoggingSteps = Int(json["logging_steps"]) ?? 500,
            EvalSteps = Int(json["eval_steps"]) ?? 500,
            SaveSteps = Int(json["save_steps"]) ?? 500,
            TrainBatchSize = Int(json["train_batch_size"]),
            NumTrainEpochs = Int(json["num_train_epochs"]) ?? 0,
            NumInputTokensSeen = (long)(Double(json["num_input_tokens_seen"]) ?? 0),
            TotalFlos = Double(json["total_flos"]) ?? 0,
            BestMetric = Double(json["best_metric"]),
            BestGlobalStep = Int(json["best_global_step"]),
            BestModelCheckpoint = json["best_model_checkpoint"]?.GetValue<string>(),
            StatefulCallbacks = json["stateful_callbacks"] as JsonObject is { } callbacks ? (JsonObject)callbacks.DeepClone() : new JsonObject(),
        };
        if (json["log_history"] is JsonArray history)
        {
            foreach (var item in history.OfType<JsonObject>()) state.LogHistory.Add(LogEntry.FromJson(item));
        }
        return state;
    }

    /// <summary>HF sets <c>state.epoch = 0</c> (an int) when training starts; it becomes a float with the first step.</summary>
    internal static JsonNode? EpochJson(double? epoch, int globalStep) =>
        epoch == 0 && globalStep == 0 ? JsonValue.Create(0) : PythonFloat(epoch);

    /// <summary>A float node that <see cref="PythonJson"/> writes as Python writes a float (<c>1.0</c>, <c>Infinity</c>).</summary>
    internal static JsonNode? PythonFloat(double? value) => value is double d ? JsonValue.Create(d) : null;

    private static double? Double(JsonNode? node) => node is JsonValue value ? value.GetValue<double>() : null;

    private static int? Int(JsonNode? node) => node is JsonValue value ? (int)value.GetValue<double>() : null;
}

/// <summary>
/// One entry of HF's <c>log_history</c>: named numbers (<c>loss</c>, <c>grad_norm</c>, <c>learning_rate</c>,
/// <c>epoch</c>, <c>eval_loss</c>, ...) and the <c>step</c> it was logged at. Values that HF holds as Python
/// ints (<c>step</c>) are kept apart from floats so the JSON matches.
/// </summary>
public sealed class LogEntry
{
    private readonly SortedDictionary<string, double> _values = new(StringComparer.Ordinal);

    public LogEntry(int step, IEnumerable<KeyValuePair<string, double>> values)
    {
        Step = step;
        foreach (var (key, value) in values) _values[key] = value;
    }

    /// <summary>HF's <c>step</c>: the global step when logged.</summary>
    public int Step { get; }

    /// <summary>The logged values by name.</summary>
    public IReadOnlyDictionary<string, double> Values => _values;

    public double this[string key] => _values[key];

    public bool TryGetValue(string key, out double value) => _values.TryGetValue(key, out value);

    internal JsonObject ToJson()
    {
        var json = new JsonObject();
        foreach (var (key, value) in _values)
            json[key] = key == "epoch" ? TrainerState.EpochJson(value, Step) : TrainerState.PythonFloat(value);
        json["step"] = Step;
        return json;
    }

    internal static LogEntry FromJson(JsonObject json)
    {
        int step = json["step"] is JsonValue s ? (int)s.GetValue<double>() : 0;
        var values = json.Where(p => p.Key != "step" && p.Value is JsonValue v && v.GetValueKind() == System.Text.Json.JsonValueKind.Number)
            .Select(p => KeyValuePair.Create(p.Key, p.Value!.GetValue<double>()));
        return new LogEntry(step, values);
    }
}
