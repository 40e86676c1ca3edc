using System.CommandLine;
using System.Text.Json.Nodes;
using Lm.Runtime.Jobs;
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
            using var progress = ProgressReporter.Create(output);
            var result = await JobRunner.RunAsync(job, new CliJobProgress(output, progress), invocation.Cancellation);
            var json = new JsonObject
            {
                ["output_dir"] = result.OutputDirectory,
                ["model"] = result.Model,
                ["objective"] = result.Objective,
                ["global_step"] = result.GlobalStep,
            };
            CliJobProgress.AddMetrics(json, result.Metrics);
            return new CommandResult(json, o =>
            {
                o.WriteLine($"model saved to {result.OutputDirectory}");
                foreach (var (key, value) in result.Metrics.OrderBy(p => p.Key, StringComparer.Ordinal))
                    o.WriteLine($"  {key,-32} {JobProgress.FormatNumber(value)}");
            });
        });
        return command;
    }
}
