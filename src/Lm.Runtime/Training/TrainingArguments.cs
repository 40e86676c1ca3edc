using System.Text.Json.Serialization;
using Lm.Runtime.Checkpoints;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Training;

/// <summary>
/// Hugging Face <c>TrainingArguments</c>: the same snake_case names (in JSON and, kebab-cased, as CLI flags) and
/// the same defaults, for the subset lm-tune implements (<c>optim="adamw_torch"</c>). Early stopping, which HF
/// configures through <c>EarlyStoppingCallback</c>, is here as <c>early_stopping_patience</c> and
/// <c>early_stopping_threshold</c>.
/// </summary>
public sealed class TrainingArguments
{
    /// <summary>Where checkpoints, the final model and results are written.</summary>
    [JsonPropertyName("output_dir")] public string OutputDir { get; set; } = "trainer_output";
    /// <summary>Allow writing into a non-empty <see cref="OutputDir"/>.</summary>
    [JsonPropertyName("overwrite_output_dir")] public bool OverwriteOutputDir { get; set; }
    [JsonPropertyName("do_train")] public bool DoTrain { get; set; }
    [JsonPropertyName("do_eval")] public bool DoEval { get; set; }
    /// <summary><c>no</c>, <c>steps</c> or <c>epoch</c>.</summary>
    [JsonPropertyName("eval_strategy")] public string EvalStrategy { get; set; } = IntervalStrategy.No;
    /// <summary>Evaluate every N steps with <c>eval_strategy=steps</c>; defaults to <see cref="LoggingSteps"/>. Below 1: a ratio of total steps.</summary>
    [JsonPropertyName("eval_steps")] public double? EvalSteps { get; set; }
    [JsonPropertyName("eval_on_start")] public bool EvalOnStart { get; set; }
    [JsonPropertyName("per_device_train_batch_size")] public int PerDeviceTrainBatchSize { get; set; } = 8;
    [JsonPropertyName("per_device_eval_batch_size")] public int PerDeviceEvalBatchSize { get; set; } = 8;
    [JsonPropertyName("gradient_accumulation_steps")] public int GradientAccumulationSteps { get; set; } = 1;
    [JsonPropertyName("learning_rate")] public double LearningRate { get; set; } = 5e-5;
    [JsonPropertyName("weight_decay")] public double WeightDecay { get; set; }
    [JsonPropertyName("adam_beta1")] public double AdamBeta1 { get; set; } = 0.9;
    [JsonPropertyName("adam_beta2")] public double AdamBeta2 { get; set; } = 0.999;
    [JsonPropertyName("adam_epsilon")] public double AdamEpsilon { get; set; } = 1e-8;
    [JsonPropertyName("max_grad_norm")] public double MaxGradNorm { get; set; } = 1.0;
    /// <summary>HF's label smoothing (<c>LabelSmoother</c>): the loss mixes in this share of uniform targets; 0 (off) to 1.</summary>
    [JsonPropertyName("label_smoothing_factor")] public double LabelSmoothingFactor { get; set; }
    /// <summary>Fractional values train part of the last epoch, as HF.</summary>
    [JsonPropertyName("num_train_epochs")] public double NumTrainEpochs { get; set; } = 3.0;
    /// <summary>When positive, overrides <see cref="NumTrainEpochs"/>.</summary>
    [JsonPropertyName("max_steps")] public int MaxSteps { get; set; } = -1;
    /// <summary><c>linear</c>, <c>cosine</c>, <c>cosine_with_restarts</c>, <c>polynomial</c>, <c>constant</c>, <c>constant_with_warmup</c>.</summary>
    [JsonPropertyName("lr_scheduler_type")] public string LrSchedulerType { get; set; } = SchedulerType.Linear;
    /// <summary>Extra scheduler arguments as HF's <c>lr_scheduler_kwargs</c>: <c>num_cycles</c>, <c>power</c>, <c>lr_end</c>.</summary>
    [JsonPropertyName("lr_scheduler_kwargs")] public Dictionary<string, double> LrSchedulerKwargs { get; set; } = new();
    [JsonPropertyName("warmup_ratio")] public double WarmupRatio { get; set; }
    [JsonPropertyName("warmup_steps")] public int WarmupSteps { get; set; }
    [JsonPropertyName("logging_strategy")] public string LoggingStrategy { get; set; } = IntervalStrategy.Steps;
    /// <summary>Below 1: a ratio of total steps, as HF.</summary>
    [JsonPropertyName("logging_steps")] public double LoggingSteps { get; set; } = 500;
    [JsonPropertyName("logging_first_step")] public bool LoggingFirstStep { get; set; }
    /// <summary>TensorBoard folder; HF's default is <c>output_dir/runs/&lt;date&gt;_&lt;host&gt;</c>.</summary>
    [JsonPropertyName("logging_dir")] public string? LoggingDir { get; set; }
    [JsonPropertyName("save_strategy")] public string SaveStrategy { get; set; } = IntervalStrategy.Steps;
    /// <summary>Below 1: a ratio of total steps, as HF.</summary>
    [JsonPropertyName("save_steps")] public double SaveSteps { get; set; } = 500;
    [JsonPropertyName("save_total_limit")] public int? SaveTotalLimit { get; set; }
    [JsonPropertyName("seed")] public int Seed { get; set; } = 42;
    /// <summary>Seed for data order and masking; <see cref="Seed"/> when not set.</summary>
    [JsonPropertyName("data_seed")] public int? DataSeed { get; set; }
    [JsonPropertyName("bf16")] public bool Bf16 { get; set; }
    [JsonPropertyName("dataloader_drop_last")] public bool DataloaderDropLast { get; set; }
    [JsonPropertyName("gradient_checkpointing")] public bool GradientCheckpointing { get; set; }
    [JsonPropertyName("load_best_model_at_end")] public bool LoadBestModelAtEnd { get; set; }
    /// <summary>Defaults to <c>loss</c> (i.e. eval_loss) when <see cref="LoadBestModelAtEnd"/> is set, as HF.</summary>
    [JsonPropertyName("metric_for_best_model")] public string? MetricForBestModel { get; set; }
    /// <summary>Defaults to false for metrics named like a loss, true otherwise, as HF.</summary>
    [JsonPropertyName("greater_is_better")] public bool? GreaterIsBetter { get; set; }
    /// <summary>Stop after this many evaluations without improvement (HF's EarlyStoppingCallback); off when null.</summary>
    [JsonPropertyName("early_stopping_patience")] public int? EarlyStoppingPatience { get; set; }
    [JsonPropertyName("early_stopping_threshold")] public double EarlyStoppingThreshold { get; set; }
    /// <summary>A checkpoint folder, or <c>last</c> for the newest <c>checkpoint-N</c> in <see cref="OutputDir"/>.</summary>
    [JsonPropertyName("resume_from_checkpoint")] public string? ResumeFromCheckpoint { get; set; }
    /// <summary><c>all</c> / <c>tensorboard</c> write TensorBoard event files under <see cref="LoggingDir"/>; <c>none</c> writes none.</summary>
    [JsonPropertyName("report_to")] public string ReportTo { get; set; } = "all";
    /// <summary>Only <c>adamw_torch</c> is implemented.</summary>
    [JsonPropertyName("optim")] public string Optim { get; set; } = "adamw_torch";
    [JsonPropertyName("run_name")] public string? RunName { get; set; }

    /// <summary>
    /// lm-tune-specific (HF passes it to <c>save_pretrained</c>, not TrainingArguments): saved models and checkpoints
    /// whose weights are larger are written as shards with model.safetensors.index.json. "5GB", "500MB", "2GiB" or a
    /// number of bytes, read as transformers' <c>convert_file_size_to_int</c>.
    /// </summary>
    [JsonPropertyName("max_shard_size")] public string MaxShardSize { get; set; } = ShardedSafeTensors.DefaultMaxShardSize;

    /// <summary>
    /// HF's <c>push_to_hub</c>: create the hub repository <see cref="HubModelId"/> before training (or reuse it) and
    /// upload the output folder to it as <see cref="HubStrategy"/> says, with a model card (README.md) at the end.
    /// Needs a token with write access (<see cref="HubToken"/>, else <c>HF_TOKEN</c>, else <c>$HF_HOME/token</c>).
    /// </summary>
    [JsonPropertyName("push_to_hub")] public bool PushToHub { get; set; }
    /// <summary>
    /// The repository to push to: <c>org/name</c>, or <c>name</c> for a repository under the token's user (the hub
    /// decides the namespace, as HF's <c>create_repo</c>). HF's default, the output folder's name, when not set.
    /// </summary>
    [JsonPropertyName("hub_model_id")] public string? HubModelId { get; set; }
    /// <summary>
    /// HF's <c>hub_strategy</c>: <c>end</c> (push the final model only), <c>every_save</c> (also push the model of each
    /// checkpoint as it is saved), <c>checkpoint</c> (also the latest checkpoint, as <c>last-checkpoint/</c>, to resume
    /// from), <c>all_checkpoints</c> (also every checkpoint under its own <c>checkpoint-N/</c>).
    /// </summary>
    [JsonPropertyName("hub_strategy")] public string HubStrategy { get; set; } = Training.HubStrategy.EverySave;
    /// <summary>
    /// The token to push with; <c>HF_TOKEN</c> or <c>$HF_HOME/token</c> when not set. Never printed, never written
    /// (training_args.json holds <c>"&lt;HUB_TOKEN&gt;"</c>, as HF's); keep it out of project and job files.
    /// </summary>
    [JsonPropertyName("hub_token")] public string? HubToken { get; set; }
    /// <summary>HF's <c>hub_private_repo</c>: create the repository private; the hub's default when not set. An existing repository keeps its visibility.</summary>
    [JsonPropertyName("hub_private_repo")] public bool? HubPrivateRepo { get; set; }
    /// <summary>HF's <c>hub_revision</c>: the branch the pushes commit to; <c>main</c> when not set. The branch must exist on the hub.</summary>
    [JsonPropertyName("hub_revision")] public string? HubRevision { get; set; }

    /// <summary><see cref="MaxShardSize"/> in bytes.</summary>
    [JsonIgnore] public long MaxShardSizeBytes => ShardedSafeTensors.ParseSize(MaxShardSize);

    /// <summary>The seed that orders data and draws masks.</summary>
    [JsonIgnore] public int EffectiveDataSeed => DataSeed ?? Seed;

    /// <summary>HF: with <c>eval_strategy=steps</c> and no <c>eval_steps</c>, evaluation follows <c>logging_steps</c>.</summary>
    [JsonIgnore] public double? EffectiveEvalSteps => EvalSteps ?? (EvalStrategy == IntervalStrategy.Steps ? LoggingSteps : null);

    /// <summary>
    /// HF's metric for the best checkpoint: <see cref="MetricForBestModel"/>, else <c>loss</c> when
    /// <see cref="LoadBestModelAtEnd"/> or early stopping asks for one.
    /// </summary>
    [JsonIgnore] public string? EffectiveMetricForBestModel =>
        MetricForBestModel ?? (LoadBestModelAtEnd || EarlyStoppingPatience is not null ? "loss" : null);

    /// <summary>HF: <see cref="GreaterIsBetter"/>, else false for metrics whose name ends in <c>loss</c>.</summary>
    [JsonIgnore] public bool EffectiveGreaterIsBetter =>
        GreaterIsBetter ?? (EffectiveMetricForBestModel is { } metric && !metric.EndsWith("loss", StringComparison.Ordinal));

    /// <summary>Rejects values HF rejects (and a few it accepts but cannot mean), naming the argument.</summary>
    public void Validate()
    {
        Require(!string.IsNullOrWhiteSpace(OutputDir), "output_dir", "must not be empty");
        Positive(PerDeviceTrainBatchSize, "per_device_train_batch_size");
        Positive(PerDeviceEvalBatchSize, "per_device_eval_batch_size");
        Positive(GradientAccumulationSteps, "gradient_accumulation_steps");
        Require(LearningRate > 0 && double.IsFinite(LearningRate), "learning_rate", $"must be a positive number, got {LearningRate}");
        Require(WeightDecay >= 0 && double.IsFinite(WeightDecay), "weight_decay", $"must be >= 0, got {WeightDecay}");
        Require(AdamBeta1 is >= 0 and < 1, "adam_beta1", $"must be in [0, 1), got {AdamBeta1}");
        Require(AdamBeta2 is >= 0 and < 1, "adam_beta2", $"must be in [0, 1), got {AdamBeta2}");
        Require(AdamEpsilon > 0, "adam_epsilon", $"must be positive, got {AdamEpsilon}");
        Require(MaxGradNorm >= 0, "max_grad_norm", $"must be >= 0 (0 disables clipping), got {MaxGradNorm}");
        Require(LabelSmoothingFactor is >= 0 and <= 1, "label_smoothing_factor", $"must be in [0, 1], got {LabelSmoothingFactor}");
        Require(MaxSteps > 0 || (NumTrainEpochs > 0 && double.IsFinite(NumTrainEpochs)), "num_train_epochs",
            $"must be positive when max_steps is not set, got {NumTrainEpochs}");
        Require(MaxSteps == -1 || MaxSteps > 0, "max_steps", $"must be positive or -1, got {MaxSteps}");
        Choice(LrSchedulerType, "lr_scheduler_type", SchedulerType.All);
        Require(WarmupRatio is >= 0 and <= 1, "warmup_ratio", $"must be in [0, 1], got {WarmupRatio}");
        Require(WarmupSteps >= 0, "warmup_steps", $"must be >= 0, got {WarmupSteps}");
        Choice(EvalStrategy, "eval_strategy", IntervalStrategy.All);
        Choice(LoggingStrategy, "logging_strategy", IntervalStrategy.All);
        Choice(SaveStrategy, "save_strategy", IntervalStrategy.All);
        Require(LoggingSteps > 0, "logging_steps", $"must be positive, got {LoggingSteps}");
        Require(SaveSteps > 0, "save_steps", $"must be positive, got {SaveSteps}");
        Require(EvalSteps is null || EvalSteps > 0, "eval_steps", $"must be positive, got {EvalSteps}");
        // HF: step counts above 1 must be whole numbers (below 1 they are ratios of the total).
        WholeAboveOne(LoggingSteps, "logging_steps");
        WholeAboveOne(SaveSteps, "save_steps");
        if (EvalSteps is double evalSteps) WholeAboveOne(evalSteps, "eval_steps");
        Require(SaveTotalLimit is null || SaveTotalLimit > 0, "save_total_limit", $"must be positive, got {SaveTotalLimit}");
        Require(EarlyStoppingPatience is null || EarlyStoppingPatience > 0, "early_stopping_patience", $"must be positive, got {EarlyStoppingPatience}");
        Choice(ReportTo, "report_to", new[] { "all", "tensorboard", "none" });
        Choice(Optim, "optim", new[] { "adamw_torch" });
        _ = MaxShardSizeBytes;
        if (LoadBestModelAtEnd)
        {
            // HF: the save and eval strategies must match so that every evaluated step has a checkpoint.
            Require(EvalStrategy != IntervalStrategy.No, "load_best_model_at_end", "needs eval_strategy steps or epoch");
            Require(SaveStrategy == EvalStrategy, "load_best_model_at_end",
                $"needs save_strategy to match eval_strategy ({SaveStrategy} != {EvalStrategy})");
            // HF: every evaluation must fall on a save, so save_steps is a multiple of eval_steps.
            if (EvalStrategy == IntervalStrategy.Steps && EffectiveEvalSteps is double every && every >= 1 && SaveSteps >= 1)
                Require(SaveSteps % every == 0, "save_steps",
                    $"must be a round multiple of eval_steps with load_best_model_at_end ({SaveSteps} is not a multiple of {every})");
        }
        Require(EarlyStoppingPatience is null || EvalStrategy != IntervalStrategy.No, "early_stopping_patience",
            "needs eval_strategy steps or epoch");
        Choice(HubStrategy, "hub_strategy", Training.HubStrategy.All);
        if (HubModelId is not null) Hub.HubRepoId.Require(HubModelId, "hub_model_id");
        if (HubRevision is not null) Hub.HubCache.RequireRevision(HubRevision);
    }

    private static void WholeAboveOne(double value, string name) =>
        Require(value <= 1 || value == Math.Floor(value), name, $"must be a whole number when above 1 (below 1 it is a ratio of the total steps), got {value}");

    private static void Positive(int value, string name) => Require(value > 0, name, $"must be positive, got {value}");

    private static void Choice(string value, string name, IReadOnlyCollection<string> allowed) =>
        Require(allowed.Contains(value), name, $"must be one of {string.Join(", ", allowed)}; got '{value}'");

    private static void Require(bool condition, string name, string problem)
    {
        if (!condition) throw new LmException(ErrorCodes.InvalidArgument, $"{name} {problem}");
    }
}

/// <summary>HF's <c>IntervalStrategy</c> values, used by eval, logging and save strategies.</summary>
public static class IntervalStrategy
{
    public const string No = "no";
    public const string Steps = "steps";
    public const string Epoch = "epoch";
    public static readonly IReadOnlyList<string> All = new[] { No, Steps, Epoch };
}

/// <summary>HF's <c>SchedulerType</c> values that lm-tune implements.</summary>
public static class SchedulerType
{
    public const string Linear = "linear";
    public const string Cosine = "cosine";
    public const string CosineWithRestarts = "cosine_with_restarts";
    public const string Polynomial = "polynomial";
    public const string Constant = "constant";
    public const string ConstantWithWarmup = "constant_with_warmup";
    public static readonly IReadOnlyList<string> All = new[] { Linear, Cosine, CosineWithRestarts, Polynomial, Constant, ConstantWithWarmup };
}

/// <summary>HF's <c>HubStrategy</c> values: what a <c>push_to_hub</c> run uploads, and when.</summary>
public static class HubStrategy
{
    public const string End = "end";
    public const string EverySave = "every_save";
    public const string Checkpoint = "checkpoint";
    public const string AllCheckpoints = "all_checkpoints";
    public static readonly IReadOnlyList<string> All = new[] { End, EverySave, Checkpoint, AllCheckpoints };
}
