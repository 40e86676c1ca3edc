namespace Lm.Runtime.Training;

/// <summary>Training is about to start (or resume): the totals a progress display needs.</summary>
public sealed class TrainBeginEventArgs(int maxSteps, int numTrainEpochs, int numExamples, int startStep) : EventArgs
{
    /// <summary>Optimizer steps the run will take in all.</summary>
    public int MaxSteps { get; } = maxSteps;
    public int NumTrainEpochs { get; } = numTrainEpochs;
    public int NumExamples { get; } = numExamples;
    /// <summary>The step training starts from (0, or the checkpoint's step when resuming).</summary>
    public int StartStep { get; } = startStep;
}

/// <summary>An optimizer step begins or ends.</summary>
public sealed class TrainerStepEventArgs(int globalStep, int maxSteps, double epoch, float? loss = null) : EventArgs
{
    /// <summary>At step end: the step's training loss (HF's <c>tr_loss_step</c> summed over the accumulation window).</summary>
    public float? Loss { get; } = loss;

    /// <summary>Steps completed (at step begin: before this one).</summary>
    public int GlobalStep { get; } = globalStep;
    public int MaxSteps { get; } = maxSteps;
    /// <summary>Fractional epoch, as HF logs it.</summary>
    public double Epoch { get; } = epoch;
}

/// <summary>A log entry was appended to <see cref="TrainerState.LogHistory"/> (training loss, evaluation, or the final summary).</summary>
public sealed class TrainerLogEventArgs(LogEntry entry) : EventArgs
{
    public LogEntry Entry { get; } = entry;
}

/// <summary>An evaluation finished; <see cref="Metrics"/> are prefixed (<c>eval_loss</c>, ...).</summary>
public sealed class TrainerEvaluationEventArgs(int globalStep, IReadOnlyDictionary<string, double> metrics) : EventArgs
{
    public int GlobalStep { get; } = globalStep;
    public IReadOnlyDictionary<string, double> Metrics { get; } = metrics;
}

/// <summary>A checkpoint folder was completed.</summary>
public sealed class TrainerSaveEventArgs(int globalStep, string folder) : EventArgs
{
    public int GlobalStep { get; } = globalStep;
    public string Folder { get; } = folder;
}

/// <summary>Something a user should hear about that does not stop training (HF would log a warning).</summary>
public sealed class TrainerWarningEventArgs(string message) : EventArgs
{
    public string Message { get; } = message;
}
