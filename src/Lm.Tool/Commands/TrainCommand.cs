using System.CommandLine;
using System.Reflection;
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
        var printCacheKey = new Option<bool>("--print-cache-key")
        {
            Description = "Print the job's content-addressed cache key (the key a build's stamp records: job, data contents, model, tool version) and exit without training",
        };
        command.Options.Add(printCacheKey);
        app.SetAction(command, async invocation =>
        {
            var fixedValues = new Dictionary<string, JsonNode?> { ["do_train"] = true };
            if (invocation.Parse.GetValue(printCacheKey)) return PrintCacheKey(jobOptions.ReadJson(invocation, fixedValues));
            var job = jobOptions.Read(invocation, fixedValues);
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
            result.AddParameterCounts(json);
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

    /// <summary>
    /// The key <see cref="JobCacheKey"/> computes for this job, run from the project folder (paths inside it are
    /// relative in the key): the same key the build records for <c>--config obj/lm/NAME.job.json</c>.
    /// </summary>
    private static CommandResult PrintCacheKey(JsonObject json)
    {
        FineTuneJob.FromJson(json).Validate();
        var lines = JobCacheKey.Lines(json.ToJsonString(), Environment.CurrentDirectory, ToolVersion, new ContentHashes(null));
        string key = JobCacheKey.Compute(lines);
        var result = new JsonObject
        {
            ["cache_key"] = key,
            ["inputs"] = new JsonArray(lines.Select(l => (JsonNode?)l).ToArray()),
        };
        return new CommandResult(result, o => o.WriteLine(key));
    }

    /// <summary>lm-tune's informational version: what the build reads as <c>lm-tune.dll</c>'s product version.</summary>
    internal static string ToolVersion =>
        typeof(TrainCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(TrainCommand).Assembly.GetName().Version?.ToString() ?? "0.0.0";
}
