namespace Lm.Runtime.Errors;

public static partial class ErrorCodes
{
    /// <summary>The training loss became NaN or infinite; the run stopped and the last good checkpoint was kept.</summary>
    public const string TrainingDiverged = "LM0410";
    /// <summary><c>resume_from_checkpoint</c> names a folder that does not exist, or <c>last</c> found none.</summary>
    public const string CheckpointNotFound = "LM0411";
    /// <summary>A checkpoint folder is incomplete or does not fit the model being trained.</summary>
    public const string CheckpointInvalid = "LM0412";
    /// <summary>Training was cancelled; a checkpoint was written and the message says how to resume.</summary>
    public const string TrainingCancelled = "LM0413";
    /// <summary>The training or evaluation data yields no batch.</summary>
    public const string NoTrainingData = "LM0414";

    /// <summary>A checkpoint's trainer_state.json has a value of the wrong type or out of range.</summary>
    public const string TrainerStateInvalid = "LM0430";

    /// <summary>A checkpoint's rng_state.json is not a random generator state this libtorch can restore.</summary>
    public const string RngStateInvalid = "LM0431";

    /// <summary>A checkpoint's optimizer state (optimizer.json, optimizer.safetensors) does not fit the model or is out of range.</summary>
    public const string OptimizerStateInvalid = "LM0432";

    /// <summary>A checkpoint's scheduler.json has a value of the wrong type or out of range.</summary>
    public const string SchedulerStateInvalid = "LM0433";

    /// <summary>A checkpoint's trainer_progress.json has a value of the wrong type or out of range.</summary>
    public const string TrainerProgressInvalid = "LM0434";

    // Memory savers (gradient checkpointing, chunked loss).
    /// <summary>gradient_checkpointing on a non-CPU device with dropout: the recomputation could not repeat the masks.</summary>
    public const string CheckpointingDropoutOnDevice = "LM0440";
}
