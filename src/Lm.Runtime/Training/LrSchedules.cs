using Lm.Runtime.Errors;

namespace Lm.Runtime.Training;

/// <summary>
/// Hugging Face's learning-rate schedules (<c>transformers.optimization.get_scheduler</c>) as multipliers of the
/// base learning rate: the learning rate used by optimizer step <c>k</c> (0-based count of steps already done) is
/// <c>learning_rate * lambda(k)</c>, as with <c>torch.optim.lr_scheduler.LambdaLR</c>.
/// </summary>
public static class LrSchedules
{
    /// <summary>
    /// HF's <c>TrainingArguments.get_warmup_steps</c>: <c>warmup_steps</c> when positive, otherwise
    /// <c>ceil(warmup_ratio * total)</c>.
    /// </summary>
    public static int WarmupSteps(TrainingArguments args, int totalSteps) =>
        args.WarmupSteps > 0 ? args.WarmupSteps : (int)Math.Ceiling(totalSteps * args.WarmupRatio);

    /// <summary>
    /// The multiplier for <paramref name="type"/>. <paramref name="kwargs"/> are HF's <c>lr_scheduler_kwargs</c>:
    /// <c>num_cycles</c> (cosine 0.5, cosine_with_restarts 1), <c>lr_end</c> (polynomial 1e-7) and <c>power</c>
    /// (polynomial 1.0). <paramref name="baseLearningRate"/> is needed by the polynomial schedule only.
    /// </summary>
    public static Func<int, double> Multiplier(string type, int warmupSteps, int totalSteps,
        IReadOnlyDictionary<string, double>? kwargs, double baseLearningRate)
    {
        kwargs ??= new Dictionary<string, double>();
        CheckKwargs(type, kwargs);
        return type switch
        {
            SchedulerType.Constant => _ => 1.0,
            SchedulerType.ConstantWithWarmup => step => step < warmupSteps ? Warmup(step, warmupSteps) : 1.0,
            SchedulerType.Linear => step => step < warmupSteps
                ? Warmup(step, warmupSteps)
                : Math.Max(0.0, (double)(totalSteps - step) / Math.Max(1, totalSteps - warmupSteps)),
            SchedulerType.Cosine => Cosine(warmupSteps, totalSteps, Kwarg(kwargs, "num_cycles", 0.5)),
            SchedulerType.CosineWithRestarts => CosineWithHardRestarts(warmupSteps, totalSteps,
                (int)Kwarg(kwargs, "num_cycles", 1)),
            SchedulerType.Polynomial => Polynomial(warmupSteps, totalSteps, baseLearningRate,
                Kwarg(kwargs, "lr_end", 1e-7), Kwarg(kwargs, "power", 1.0)),
            _ => throw new LmException(ErrorCodes.InvalidArgument,
                $"lr_scheduler_type must be one of {string.Join(", ", SchedulerType.All)}; got '{type}'"),
        };
    }

    private static double Warmup(int step, int warmupSteps) => (double)step / Math.Max(1, warmupSteps);

    private static double Progress(int step, int warmupSteps, int totalSteps) =>
        (double)(step - warmupSteps) / Math.Max(1, totalSteps - warmupSteps);

    private static Func<int, double> Cosine(int warmupSteps, int totalSteps, double numCycles) => step =>
        step < warmupSteps
            ? Warmup(step, warmupSteps)
            : Math.Max(0.0, 0.5 * (1.0 + Math.Cos(Math.PI * numCycles * 2.0 * Progress(step, warmupSteps, totalSteps))));

    private static Func<int, double> CosineWithHardRestarts(int warmupSteps, int totalSteps, int numCycles) => step =>
    {
        if (step < warmupSteps) return Warmup(step, warmupSteps);
        double progress = Progress(step, warmupSteps, totalSteps);
        if (progress >= 1.0) return 0.0;
        // Python's float modulo: the result has the sign of the divisor, so it is never negative here.
        double phase = PythonModulo(numCycles * progress, 1.0);
        return Math.Max(0.0, 0.5 * (1.0 + Math.Cos(Math.PI * phase)));
    };

    private static Func<int, double> Polynomial(int warmupSteps, int totalSteps, double lrInit, double lrEnd, double power)
    {
        if (!(lrInit > lrEnd))
            throw new LmException(ErrorCodes.InvalidArgument,
                $"lr_scheduler_kwargs lr_end ({lrEnd}) must be smaller than learning_rate ({lrInit})");
        return step =>
        {
            if (step < warmupSteps) return Warmup(step, warmupSteps);
            if (step > totalSteps) return lrEnd / lrInit;
            double lrRange = lrInit - lrEnd;
            int decaySteps = totalSteps - warmupSteps;
            double pctRemaining = 1.0 - (double)(step - warmupSteps) / decaySteps;
            double decay = lrRange * Math.Pow(pctRemaining, power) + lrEnd;
            return decay / lrInit;
        };
    }

    private static double PythonModulo(double a, double b)
    {
        double r = a % b;
        return r != 0 && (r < 0) != (b < 0) ? r + b : r;
    }

    private static double Kwarg(IReadOnlyDictionary<string, double> kwargs, string name, double fallback) =>
        kwargs.TryGetValue(name, out double value) ? value : fallback;

    private static void CheckKwargs(string type, IReadOnlyDictionary<string, double> kwargs)
    {
        string[] allowed = type switch
        {
            SchedulerType.Cosine or SchedulerType.CosineWithRestarts => ["num_cycles"],
            SchedulerType.Polynomial => ["lr_end", "power"],
            _ => [],
        };
        foreach (string key in kwargs.Keys)
        {
            if (!allowed.Contains(key))
                throw new LmException(ErrorCodes.InvalidArgument,
                    $"lr_scheduler_kwargs has '{key}', which the {type} schedule does not take" +
                    (allowed.Length == 0 ? "" : $" (it takes {string.Join(", ", allowed)})"));
        }
    }
}
