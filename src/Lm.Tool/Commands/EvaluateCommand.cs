using System.CommandLine;
using System.Text.Json.Nodes;
using Lm.Runtime.Jobs;
using Lm.Tool.Cli;
using Lm.Tool.Progress;

namespace Lm.Tool.Commands;

/// <summary>
/// <c>lm-tune evaluate</c>: run_clm.py with only <c>--do_eval</c>: eval_loss and perplexity = exp(eval_loss) of a
/// model on the validation split. With <c>--output-dir</c>, eval_results.json and all_results.json are written there too.
/// </summary>
internal static class EvaluateCommand
{
    public static Command Create(LmTuneApp app)
    {
        var jobOptions = new JobOptions();
        var command = new Command("evaluate", "Compute eval_loss and perplexity of a model on a validation file");
        jobOptions.AddTo(command);
        app.SetAction(command, async invocation =>
        {
            var json = jobOptions.ReadJson(invocation, new Dictionary<string, JsonNode?> { ["do_train"] = false, ["do_eval"] = true });
            bool writeResults = json.ContainsKey("output_dir");
            var job = FineTuneJob.FromJson(json);
            job.Validate();
            if (writeResults) OutputFolder.EnsureWritable(job.Training.OutputDir);

            using var progress = ProgressReporter.Create(invocation.Output);
            using var run = await JobRunner.OpenAsync(job, train: false, eval: true, new CliJobProgress(invocation.Output, progress), invocation.Cancellation);
            Dictionary<string, double> metrics;
            if (writeResults)
            {
                using var trainer = run.CreateTrainer();
                metrics = run.RunEvaluation(trainer, invocation.Cancellation);
            }
            else
            {
                metrics = run.EvaluateNow(invocation.Cancellation);
            }
            var result = new JsonObject { ["model"] = run.Source.Name };
            run.AddParameterCounts(result);
            CliJobProgress.AddMetrics(result, metrics);
            return new CommandResult(result, o =>
            {
                o.WriteLine($"eval_loss   {JobProgress.FormatNumber(metrics["eval_loss"])}");
                o.WriteLine($"perplexity  {JobProgress.FormatNumber(metrics["perplexity"])}");
            });
        });
        return command;
    }
}
