namespace Lm.Runtime.Configuration;

/// <summary>
/// Hugging Face <c>TrainingArguments</c> of a fine-tune job under their C# names (<c>LearningRate</c>,
/// <c>NumTrainEpochs</c>, <c>PerDeviceTrainBatchSize</c>, <c>EvalStrategy</c>, ...). Goes with
/// <see cref="FineTuneJobAttribute"/> on the same class; only the arguments given here are set, the others keep
/// Hugging Face's defaults.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class TrainingAttribute : Attribute
{
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.OutputDir"/>
    public string? OutputDir { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.OverwriteOutputDir"/>
    public bool OverwriteOutputDir { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.DoTrain"/>
    public bool DoTrain { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.DoEval"/>
    public bool DoEval { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.EvalStrategy"/>
    public string? EvalStrategy { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.EvalSteps"/>
    public double EvalSteps { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.EvalOnStart"/>
    public bool EvalOnStart { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.PerDeviceTrainBatchSize"/>
    public int PerDeviceTrainBatchSize { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.PerDeviceEvalBatchSize"/>
    public int PerDeviceEvalBatchSize { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.GradientAccumulationSteps"/>
    public int GradientAccumulationSteps { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.LearningRate"/>
    public double LearningRate { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.WeightDecay"/>
    public double WeightDecay { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.AdamBeta1"/>
    public double AdamBeta1 { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.AdamBeta2"/>
    public double AdamBeta2 { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.AdamEpsilon"/>
    public double AdamEpsilon { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.MaxGradNorm"/>
    public double MaxGradNorm { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.LabelSmoothingFactor"/>
    public double LabelSmoothingFactor { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.NumTrainEpochs"/>
    public double NumTrainEpochs { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.MaxSteps"/>
    public int MaxSteps { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.LrSchedulerType"/>
    public string? LrSchedulerType { get; set; }
    /// <summary>HF's <c>lr_scheduler_kwargs</c> as <c>key=value</c> pairs separated by commas (<c>"num_cycles=0.5"</c>, <c>"power=2,lr_end=1e-7"</c>).</summary>
    public string? LrSchedulerKwargs { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.WarmupRatio"/>
    public double WarmupRatio { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.WarmupSteps"/>
    public int WarmupSteps { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.LoggingStrategy"/>
    public string? LoggingStrategy { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.LoggingSteps"/>
    public double LoggingSteps { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.LoggingFirstStep"/>
    public bool LoggingFirstStep { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.LoggingDir"/>
    public string? LoggingDir { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.SaveStrategy"/>
    public string? SaveStrategy { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.SaveSteps"/>
    public double SaveSteps { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.SaveTotalLimit"/>
    public int SaveTotalLimit { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.Seed"/>
    public int Seed { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.DataSeed"/>
    public int DataSeed { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.Bf16"/>
    public bool Bf16 { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.DataloaderDropLast"/>
    public bool DataloaderDropLast { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.GradientCheckpointing"/>
    public bool GradientCheckpointing { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.LoadBestModelAtEnd"/>
    public bool LoadBestModelAtEnd { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.MetricForBestModel"/>
    public string? MetricForBestModel { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.GreaterIsBetter"/>
    public bool GreaterIsBetter { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.EarlyStoppingPatience"/>
    public int EarlyStoppingPatience { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.EarlyStoppingThreshold"/>
    public double EarlyStoppingThreshold { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.ResumeFromCheckpoint"/>
    public string? ResumeFromCheckpoint { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.ReportTo"/>
    public string? ReportTo { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.Optim"/>
    public string? Optim { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.RunName"/>
    public string? RunName { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.MaxShardSize"/>
    public string? MaxShardSize { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.PushToHub"/>
    public bool PushToHub { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.HubModelId"/>
    public string? HubModelId { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.HubStrategy"/>
    public string? HubStrategy { get; set; }
    // No HubToken: an attribute's values are compiled into the assembly and ship with the app (SchemaField.IsSecret).
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.HubPrivateRepo"/>
    public bool HubPrivateRepo { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Training.TrainingArguments.HubRevision"/>
    public string? HubRevision { get; set; }
}
