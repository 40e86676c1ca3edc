using System.Text.Json.Nodes;
using Lm.Runtime.Checkpoints;
using Lm.Runtime.Errors;
using Lm.Runtime.Files;

namespace Lm.Runtime.Training;

/// <summary>
/// <c>torch.optim.lr_scheduler.LambdaLR</c> over one of <see cref="LrSchedules"/>: after <c>k</c> calls of
/// <see cref="Step"/> the learning rate is <c>base_lr * multiplier(k)</c>. The trainer reads
/// <see cref="LearningRate"/> before each optimizer step and calls <see cref="Step"/> after it, as HF does.
/// </summary>
public sealed class LrScheduler
{
    private readonly Func<int, double> _multiplier;

    /// <summary>A scheduler at step 0 for <paramref name="args"/> over <paramref name="totalSteps"/> optimizer steps.</summary>
    public LrScheduler(TrainingArguments args, int totalSteps)
    {
        BaseLearningRate = args.LearningRate;
        Type = args.LrSchedulerType;
        TotalSteps = totalSteps;
        WarmupSteps = LrSchedules.WarmupSteps(args, totalSteps);
        _multiplier = LrSchedules.Multiplier(Type, WarmupSteps, totalSteps, args.LrSchedulerKwargs, BaseLearningRate);
    }

    /// <summary>HF's <c>learning_rate</c>: the learning rate the multiplier scales.</summary>
    public double BaseLearningRate { get; }

    /// <summary>HF's <c>lr_scheduler_type</c>.</summary>
    public string Type { get; }

    /// <summary>Optimizer steps the schedule spans.</summary>
    public int TotalSteps { get; }

    /// <summary>Warmup steps after <see cref="LrSchedules.WarmupSteps"/>.</summary>
    public int WarmupSteps { get; }

    /// <summary>LambdaLR's <c>last_epoch</c>: how many times <see cref="Step"/> was called.</summary>
    public int StepCount { get; private set; }

    /// <summary>The learning rate for the next optimizer step.</summary>
    public double LearningRate => BaseLearningRate * _multiplier(StepCount);

    /// <summary>The learning rate after <paramref name="step"/> scheduler steps.</summary>
    public double LearningRateAt(int step) => BaseLearningRate * _multiplier(step);

    /// <summary>Advances the schedule by one optimizer step.</summary>
    public void Step() => StepCount++;

    /// <summary>The state written to <c>scheduler.json</c> (LambdaLR's state_dict fields plus the schedule).</summary>
    public JsonObject ToJson() => new()
    {
        ["base_lrs"] = new JsonArray(BaseLearningRate),
        ["last_epoch"] = StepCount,
        ["_step_count"] = StepCount + 1,
        ["_last_lr"] = new JsonArray(LearningRate),
        ["lr_scheduler_type"] = Type,
        ["num_warmup_steps"] = WarmupSteps,
        ["num_training_steps"] = TotalSteps,
    };

    /// <summary>Restores the step count from <c>scheduler.json</c>; the schedule itself must match the arguments.</summary>
    public void Load(JsonObject state, string source)
    {
        // Types and ranges first (LM0433); a well-formed file of another schedule is a mismatch (LM0412).
        var fields = new JsonFields(state, source, ErrorCodes.SchedulerStateInvalid);
        string? type = fields.String("lr_scheduler_type");
        int? warmup = fields.Int("num_warmup_steps", min: 0);
        int? total = fields.Int("num_training_steps", min: 0);
        int? lastEpoch = (int)fields.RequiredLong("last_epoch", min: 0, max: int.MaxValue);
        if (type != Type || warmup != WarmupSteps || total != TotalSteps)
            throw new LmException(ErrorCodes.CheckpointInvalid,
                $"{source}: the checkpoint's schedule ({type}, {warmup} warmup of {total} steps) differs from this run's " +
                $"({Type}, {WarmupSteps} warmup of {TotalSteps} steps); resume with the arguments the run started with")
            { File = source };
        StepCount = lastEpoch.Value;
    }
}
