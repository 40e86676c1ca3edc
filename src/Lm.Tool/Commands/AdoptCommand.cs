using System.CommandLine;
using System.Text.Json.Nodes;
using Lm.Runtime.Jobs;
using Lm.Runtime.Jobs.Export;
using Lm.Tool.Cli;

namespace Lm.Tool.Commands;

/// <summary>
/// <c>lm-tune adopt [JOB.json] --from DIR</c>: a job trained elsewhere (an <c>lm-tune export</c> run, or any Hugging
/// Face output folder) becomes the job's result: the folder is checked to be a model lm-tune reads and its files are
/// copied into the job's output folder, under the same output-folder rules as <c>train</c>. Prints what <c>train</c>
/// prints, from the folder's <c>all_results.json</c> and <c>trainer_state.json</c>.
/// </summary>
internal static class AdoptCommand
{
    public static Command Create(LmTuneApp app)
    {
        var jobOptions = new JobOptions();
        var jobFile = new Argument<string?>("job")
        {
            Description = "A job file (HF argument names, as --config reads); flags override it",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var from = new Option<string>("--from") { Description = "The output folder of the run made elsewhere", Required = true, HelpName = "dir" };
        var command = new Command("adopt", "Take a model trained elsewhere (an exported run's output folder) as the job's result, without training")
        {
            jobFile, from,
        };
        jobOptions.AddTo(command);
        app.SetAction(command, invocation =>
        {
            var parse = invocation.Parse;
            var job = jobOptions.Read(invocation, null, parse.GetValue(jobFile));
            string outputDir = job.Training.OutputDir;
            var adopted = ResultAdoption.Adopt(parse.GetValue(from)!, outputDir,
                folder => OutputFolder.Prepare(folder, job.Training.OverwriteOutputDir, resumeAllowed: false, invocation.Output.Info));
            invocation.Output.Info($"adopted {adopted.Files.Count} files from {parse.GetValue(from)} into {Path.GetFullPath(outputDir)}");
            var json = new JsonObject
            {
                ["output_dir"] = Path.GetFullPath(outputDir),
                ["model"] = Path.GetFullPath(parse.GetValue(from)!),
                ["objective"] = FineTuneJob.ObjectiveFor(job.Model.Objective, adopted.ModelType),
                ["global_step"] = adopted.GlobalStep,
            };
            CliJobProgress.AddMetrics(json, adopted.Metrics);
            return Task.FromResult(new CommandResult(json, o =>
            {
                o.WriteLine($"adopted into {Path.GetFullPath(outputDir)}");
                foreach (var (key, value) in adopted.Metrics.OrderBy(p => p.Key, StringComparer.Ordinal))
                    o.WriteLine($"  {key,-32} {JobProgress.FormatNumber(value)}");
            }));
        });
        return command;
    }
}
