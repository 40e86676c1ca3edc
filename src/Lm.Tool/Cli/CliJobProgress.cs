using Lm.Runtime.Jobs;
using Lm.Tool.Progress;

namespace Lm.Tool.Cli;

/// <summary>
/// Prints a running job's reports (<see cref="JobRunner"/>) as the command line shows them: info and detail lines
/// and warnings on stderr at their verbosity, stages as progress bars (or plain lines), log lines in the log.
/// </summary>
internal sealed class CliJobProgress(CliOutput output, ProgressReporter progress) : IProgress<JobProgress>
{
    public void Report(JobProgress value)
    {
        switch (value.Kind)
        {
            case JobProgressKind.Info:
                output.Info(value.Message);
                break;
            case JobProgressKind.Detail:
                output.Detail(value.Message);
                break;
            case JobProgressKind.Warning:
                output.Warning(value.Message);
                break;
            case JobProgressKind.StageStarted:
                progress.Begin(JobProgress.StageName(value.Stage!.Value), value.Total);
                break;
            // Tokenizing shows as one phase (started, done), as it always has; rows are for library users.
            case JobProgressKind.StageAdvanced when value.Stage == JobStage.Tokenize:
                break;
            case JobProgressKind.StageAdvanced:
                progress.Update(JobProgress.StageName(value.Stage!.Value), value.Done, value.Message.Length == 0 ? null : value.Message);
                break;
            case JobProgressKind.StageFinished:
                progress.End(JobProgress.StageName(value.Stage!.Value));
                break;
            case JobProgressKind.Log:
            case JobProgressKind.Evaluated:
                progress.Line(value.Message);
                break;
        }
    }

    /// <summary>Copies metrics into a JSON result; infinities and NaN (a diverged perplexity) become null.</summary>
    public static void AddMetrics(System.Text.Json.Nodes.JsonObject json, IReadOnlyDictionary<string, double> metrics, string prefix = "")
    {
        foreach (var (key, value) in metrics.OrderBy(p => p.Key, StringComparer.Ordinal))
            json[prefix + key] = double.IsFinite(value) ? value : null;
    }
}
