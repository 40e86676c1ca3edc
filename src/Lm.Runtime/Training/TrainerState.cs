using System.Text.Json.Nodes;
using Lm.Runtime.Checkpoints;
using Lm.Runtime.Errors;
using Lm.Runtime.Files;

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

    /// <summary>
    /// Reads a <c>trainer_state.json</c> written by lm-tune or by HF. Every value is checked before use (types, steps
    /// and counts not negative, epoch finite), so a damaged or hand-edited file is LM0430 naming the file and key,
    /// never a checkpoint folder with a negative number or a crash later in the run.
    /// </summary>
    public static TrainerState Load(string path)
    {
        var json = JsonFields.Read(path, ErrorCodes.TrainerStateInvalid);
        var state = new TrainerState
        {
            Epoch = json.Double("epoch", min: 0, finite: true),
            GlobalStep = json.Int("global_step", min: 0) ?? 0,
            MaxSteps = json.Int("max_steps", min: 0) ?? 0,
            LoggingSteps = json.Int("logging_steps", min: 0) ?? 500,
            EvalSteps = json.Int("eval_steps", min: 0) ?? 500,
            SaveSteps = json.Int("save_steps", min: 0) ?? 500,
            TrainBatchSize = json.Int("train_batch_size", min: 1),
            NumTrainEpochs = json.Int("num_train_epochs", min: 0) ?? 0,
            NumInputTokensSeen = json.Long("num_input_tokens_seen", min: 0) ?? 0,
            TotalFlos = json.Double("total_flos", min: 0, finite: true) ?? 0,
            BestMetric = json.Double("best_metric"),
            BestGlobalStep = json.Int("best_global_step", min: 0),
            BestModelCheckpoint = json.String("best_model_checkpoint"),
            StatefulCallbacks = json.Object("stateful_callbacks") is { } callbacks ? (JsonObject)callbacks.Json.DeepClone() : new JsonObject(),
        };
        foreach (var entry in json.Objects("log_history")) state.LogHistory.Add(LogEntry.FromJson(entry));
        return state;
    }

    /// <summary>HF sets <c>state.epoch = 0</c> (an int) when training starts; it becomes a float with the first step.</summary>
    internal static JsonNode? EpochJson(double? epoch, int globalStep) =>
        epoch == 0 && globalStep == 0 ? JsonValue.Create(0) : PythonFloat(epoch);

    /// <summary>A float node that <see cref="PythonJson"/> writes as Python writes a float (<c>1.0</c>, <c>Infinity</c>).</summary>
    internal static JsonNode? PythonFloat(double? value) => value is double d ? JsonValue.Create(d) : null;

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

    /// <summary>One entry of a file's <c>log_history</c>: numbers are kept, other values (HF's strings) skipped.</summary>
    internal static LogEntry FromJson(JsonFields json)
    {
        int step = json.Int("step", min: 0) ?? 0;
        var values = json.Json.Where(p => p.Key != "step" && p.Value is JsonValue v && v.GetValueKind() == System.Text.Json.JsonValueKind.Number)
            .Select(p => KeyValuePair.Create(p.Key, json.Double(p.Key)!.Value));
        return new LogEntry(step, values);
    }
}
