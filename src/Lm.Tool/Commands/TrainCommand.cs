using System.CommandLine;
using System.Text.Json.Nodes;
using Lm.Runtime.Jobs;
using Lm.Runtime.Training;
using Lm.Tool.Cli;
using Lm.Tool.Progress;

namespace Lm.Tool.Commands;

/// <summary>
/// <c>lm-tune train</c>: run_clm.py / run_mlm.py with <c>--do_train</c>. Every schema field is a flag
/// (<c>--learning-rate</c>), <c>--config job.json</c> supplies them with HF's names, flags override the file.
/// </summary>
internal static class TrainCommand
{
    public static Command Create(LmTuneApp app)
    {
        var jobOptions = new JobOptions();
        var command = new Command("train", "Fine-tune (or train from scratch) a causal or masked language model, as run_clm.py / run_mlm.py");
        jobOptions.AddTo(command);
        app.SetAction(command, async invocation =>
        {
            var job = jobOptions.Read(invocation.Parse, new Dictionary<string, JsonNode?> { ["do_train"] = true });
            var output = invocation.Output;
            var training = job.Training;
            string? lastCheckpoint = OutputFolder.Prepare(training.OutputDir, training.OverwriteOutputDir, resumeAllowed: true, output);
            if (lastCheckpoint is not null && training.ResumeFromCheckpoint is null)
            {
                output.Info($"checkpoint detected, resuming training at {lastCheckpoint}; use --overwrite-output-dir to train from scratch");
                training.ResumeFromCheckpoint = lastCheckpoint;
            }
            // HF: an evaluation strategy other than "no" implies do_eval.
            bool eval = training.DoEval || training.EvalStrategy != IntervalStrategy.No;

            using var progress = ProgressReporter.Create(output);
            using var run = await FineTuneRun.OpenAsync(job, train: true, eval, output, progress, invocation.Cancellation);
            using var trainer = run.CreateTrainer(progress, output);
            var trained = trainer.RunTraining(invocation.Cancellation);
            progress.End("train");
            var metrics = new Dictionary<string, double>(trained.Metrics);
            if (eval)
            {
                foreach (var (key, value) in run.RunEvaluation(trainer, progress)) metrics[key] = value;
            }
            trainer.WriteReport(metrics);

            var json = new JsonObject
            {
                ["output_dir"] = Path.GetFullPath(training.OutputDir),
                ["model"] = run.Source.Name,
                ["objective"] = run.Source.Objective(job.Model),
                ["global_step"] = trained.GlobalStep,
            };
            run.AddParameterCounts(json);
            FineTuneRun.AddMetrics(json, metrics);
            return new CommandResult(json, o =>
            {
                o.WriteLine($"model saved to {Path.GetFullPath(training.OutputDir)}");
                foreach (var (key, value) in metrics.OrderBy(p => p.Key, StringComparer.Ordinal))
                    o.WriteLine($"  {key,-32} {FineTuneRun.Format(value)}");
            });
        });
        return command;
    }
}
