using System.Globalization;

namespace Lm.Runtime.Jobs;

/// <summary>The stages of a job that take time, in the order a training job goes through them.</summary>
public enum JobStage
{
    /// <summary>Tokenizing, grouping and caching the data (run_clm.py's <c>dataset.map</c> calls).</summary>
    Tokenize,

    /// <summary>The training loop; <see cref="JobProgress.Total"/> is the number of optimizer steps.</summary>
    Train,

    /// <summary>An evaluation on the validation split; <see cref="JobProgress.Total"/> is the number of batches.</summary>
    Eval,
}

/// <summary>What a <see cref="JobProgress"/> report is about.</summary>
public enum JobProgressKind
{
    /// <summary>A line a user reads at normal verbosity: where the model comes from, its size, the training totals.</summary>
    Info,

    /// <summary>A line for detailed logs: where a hub id resolved to, each checkpoint written.</summary>
    Detail,

    /// <summary>Something the user should hear about that does not stop the job (HF would log a warning).</summary>
    Warning,

    /// <summary>A <see cref="JobProgress.Stage"/> begins; <see cref="JobProgress.Total"/> is its size (0 when unknown).</summary>
    StageStarted,

    /// <summary>
    /// A stage moved to <see cref="JobProgress.Done"/>: for tokenizing, the rows of the split named by
    /// <see cref="JobProgress.Message"/> tokenized so far (after each map batch; nothing when the token cache has the
    /// split); for training, the optimizer steps, with loss and learning rate in <see cref="JobProgress.Message"/>.
    /// </summary>
    StageAdvanced,

    /// <summary>A <see cref="JobProgress.Stage"/> finished.</summary>
    StageFinished,

    /// <summary>
    /// A line that belongs in the run's log: the data pipeline's summaries and each trainer log entry
    /// (<c>step 20: loss 3.1, ...</c>, with <see cref="JobProgress.Step"/> and <see cref="JobProgress.Metrics"/>).
    /// </summary>
    Log,

    /// <summary>
    /// The job's final evaluation finished: <see cref="JobProgress.Metrics"/> holds <c>eval_loss</c>,
    /// <c>perplexity</c>, ... exactly as written to <c>eval_results.json</c>.
    /// </summary>
    Evaluated,
}

/// <summary>
/// One report from a running job (<see cref="JobRunner"/>). Reports are made synchronously on the thread that runs
/// the job, in the order things happen, so an <see cref="IProgress{T}"/> that acts at once sees them in order (the
/// framework's <see cref="Progress{T}"/> posts them to a synchronization context, which may reorder nothing but may
/// deliver them later).
/// </summary>
/// <param name="Kind">What the report is about.</param>
/// <param name="Message">The text a log shows for it (for <see cref="JobProgressKind.StageAdvanced"/>: the metrics beside a progress bar; may be empty).</param>
public sealed record JobProgress(JobProgressKind Kind, string Message = "")
{
    /// <summary>The stage of a <c>Stage*</c> report.</summary>
    public JobStage? Stage { get; init; }

    /// <summary>Steps done (<see cref="JobProgressKind.StageAdvanced"/>).</summary>
    public long Done { get; init; }

    /// <summary>The stage's size (<see cref="JobProgressKind.StageStarted"/>); 0 when unknown.</summary>
    public long Total { get; init; }

    /// <summary>The optimizer step a training report is about.</summary>
    public int? Step { get; init; }

    /// <summary>The step's training loss (<see cref="JobProgressKind.StageAdvanced"/> of <see cref="JobStage.Train"/>).</summary>
    public float? Loss { get; init; }

    /// <summary>The learning rate last logged (<see cref="JobProgressKind.StageAdvanced"/> of <see cref="JobStage.Train"/>).</summary>
    public double? LearningRate { get; init; }

    /// <summary>A log entry's values or an evaluation's metrics.</summary>
    public IReadOnlyDictionary<string, double>? Metrics { get; init; }

    /// <summary>The name a progress display shows for a stage: <c>tokenize</c>, <c>train</c>, <c>eval</c>.</summary>
    public static string StageName(JobStage stage) => stage switch
    {
        JobStage.Tokenize => "tokenize",
        JobStage.Train => "train",
        _ => "eval",
    };

    /// <summary>Numbers as HF logs them: short, invariant culture.</summary>
    public static string FormatNumber(double value) =>
        value.ToString(Math.Abs(value) is >= 1e-3 and < 1e6 or 0 ? "0.####" : "0.###e+0", CultureInfo.InvariantCulture);
}

/// <summary>What a finished training job (<see cref="JobRunner.Run"/>) produced.</summary>
/// <param name="OutputDirectory">Absolute path of <c>output_dir</c>, where the model, tokenizer and results were written.</param>
/// <param name="Model">What the job named as its model (folder, hub id, preset, config).</param>
/// <param name="Objective"><c>clm</c> or <c>mlm</c>.</param>
/// <param name="GlobalStep">Optimizer steps taken (in all, when the run resumed).</param>
/// <param name="Metrics">Train and (when the job evaluates) eval metrics, as written to <c>all_results.json</c>.</param>
public sealed record JobResult(string OutputDirectory, string Model, string Objective, int GlobalStep, IReadOnlyDictionary<string, double> Metrics)
{
    /// <summary>The trained model's parameter counts (and LoRA rank and alpha for an adapter run).</summary>
    public ParameterCounts? Parameters { get; init; }

    /// <summary>Adds <see cref="Parameters"/> to a JSON result (nothing when unknown).</summary>
    public void AddParameterCounts(System.Text.Json.Nodes.JsonObject json) => Parameters?.AddTo(json);
}

/// <summary>Trainable and total parameters of a run's model; <paramref name="Lora"/> for an adapter run.</summary>
public sealed record ParameterCounts(long Trainable, long Total, Models.Lora.LoraConfig? Lora)
{
    public void AddTo(System.Text.Json.Nodes.JsonObject json)
    {
        json["trainable_parameters"] = Trainable;
        json["total_parameters"] = Total;
        if (Lora is not null)
        {
            json["lora_r"] = Lora.R;
            json["lora_alpha"] = Lora.LoraAlpha;
        }
    }
}
