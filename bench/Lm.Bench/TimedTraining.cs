using System.Diagnostics;
using Lm.Runtime.Models;
using Lm.Runtime.Training;

using static Lm.Bench.BenchProcess;

namespace Lm.Bench;

/// <summary>
/// The train-step measurement both trainer benchmarks share: random tokens through <see cref="Trainer"/> for
/// warm-up + timed steps in a throw-away output folder, timed from the end of the last warm-up step to the end of
/// the last step, so start-up and the first step's allocations are left out.
/// </summary>
internal static class TimedTraining
{
    /// <summary>Wall-clock and CPU seconds per optimizer step of <paramref name="steps"/> steps after <paramref name="warmup"/>.</summary>
    public static (double Wall, double Cpu) SecondsPerStep(LanguageModel model, int batch, int length, int warmup, int steps,
        bool bf16, bool gradientCheckpointing = false, TrainerOptions? options = null)
    {
        var data = new RandomBlocks(batch * (warmup + steps), length, model.VocabSize, seed: 1);
        string output = Path.Combine(Path.GetTempPath(), "lm-bench-train-" + Guid.NewGuid().ToString("N"));
        var arguments = new TrainingArguments
        {
            OutputDir = output,
            PerDeviceTrainBatchSize = batch,
            MaxSteps = warmup + steps,
            LoggingSteps = 1000,
            SaveStrategy = IntervalStrategy.No,
            ReportTo = "none",
            Bf16 = bf16,
            GradientCheckpointing = gradientCheckpointing,
        };
        var stepEnds = new List<(double Wall, double Cpu)>();
        var clock = Stopwatch.StartNew();
        try
        {
            using var trainer = new Trainer(model, arguments, data, options: options);
            trainer.StepEnd += (_, _) => stepEnds.Add((clock.Elapsed.TotalSeconds, CpuSeconds()));
            trainer.Train();
        }
        finally
        {
            if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
        }
        return ((stepEnds[^1].Wall - stepEnds[warmup - 1].Wall) / steps, (stepEnds[^1].Cpu - stepEnds[warmup - 1].Cpu) / steps);
    }
}
