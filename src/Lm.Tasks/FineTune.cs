using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lm.Runtime.Jobs;
using Lm.Runtime.Training;
using Lm.Tasks.Errors;
using Lm.Tasks.Jobs;
using Lm.Tasks.Tooling;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace Lm.Tasks;

/// <summary>
/// Trains one resolved job out of process: <c>lm-tune train --config JOB --json</c>. Holds the job's output lock while
/// it runs, streams the tool's stderr into the build log (phase lines at normal verbosity, per-step lines at detailed,
/// <c>error LM####</c> lines as build errors at the item's place in the project file), and writes the completion stamp
/// only when the tool succeeded. Whether the job is up to date, resumes or starts over is <see cref="RunPlan"/>'s
/// decision (content-addressed, so a restored CI cache counts). Cancelling the build interrupts the tool and kills
/// its process tree; saved checkpoints stay, and the next build of the same job resumes from the last one.
/// </summary>
public sealed class FineTune : Microsoft.Build.Utilities.Task, ICancelableTask
{
    private readonly CancellationTokenSource _cancellation = new();
    private ToolProcess? _tool;

    /// <summary>One item of <c>ResolveFineTuneJobs.ResolvedJobs</c>.</summary>
    [Required] public ITaskItem Job { get; set; } = null!;

    /// <summary>The program that runs lm-tune (<c>ResolveFineTuneJobs.ToolExecutable</c>).</summary>
    [Required] public string ToolExecutable { get; set; } = "";

    /// <summary>Arguments before lm-tune's own (<c>ResolveFineTuneJobs.ToolArguments</c>).</summary>
    public string[] ToolArguments { get; set; } = [];

    /// <summary>The tool's working directory (the project folder).</summary>
    [Required] public string ProjectDirectory { get; set; } = "";

    /// <summary><c>$(LmTorchBackend)</c>, passed to the tool as LM_TORCH_BACKEND.</summary>
    public string? TorchBackend { get; set; }

    /// <summary>How long to wait for another build holding this job's lock (<c>$(LmLockTimeoutSeconds)</c>).</summary>
    public int LockTimeoutSeconds { get; set; } = 600;

    /// <summary>
    /// How long the tool gets to stop after an interrupt before its process tree is killed (<c>$(LmStopGraceSeconds)</c>).
    /// lm-tune gives itself 30 s after Ctrl+C to finish the step and save a checkpoint, then exits; the build waits
    /// longer than that, so it never kills a save it asked for.
    /// </summary>
    public int StopGraceSeconds { get; set; } = DefaultStopGraceSeconds;

    /// <summary>lm-tune's own 30 s to finish a step and save after an interrupt, plus time to exit.</summary>
    internal const int DefaultStopGraceSeconds = 45;

    /// <summary>The tool's results (identity = job name; metadata: train_loss, eval_loss, perplexity, ... as lm-tune printed them).</summary>
    [Output] public ITaskItem? Result { get; private set; }

    public void Cancel()
    {
        _cancellation.Cancel();
        _tool?.Stop(TimeSpan.FromSeconds(StopGraceSeconds));
    }

    public override bool Execute()
    {
        var engine = BuildEngine as IBuildEngine3;
        // Training takes minutes: let the node build other projects meanwhile (logging stays allowed).
        engine?.Yield();
        try
        {
            return Run();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.ComponentModel.Win32Exception)
        {
            // A file the job needs could not be written or the tool could not start: a build error, not a task crash.
            LogAtItem(TaskErrorCodes.FineTuneToolFailed, $"{Job.ItemSpec}: {e.Message}");
            return false;
        }
        finally
        {
            engine?.Reacquire();
        }
    }

    private bool Run()
    {
        string name = Job.ItemSpec;
        string outputDir = Job.GetMetadata("OutputDir");
        using var outputLock = OutputLock.Acquire(Job.GetMetadata("LockFile"), TimeSpan.FromSeconds(LockTimeoutSeconds),
            () => Log.LogMessage(MessageImportance.High,
                "{0}: another build is fine-tuning this job; waiting up to {1} s for it to finish", name, LockTimeoutSeconds),
            _cancellation.Token);
        if (outputLock is null)
        {
            if (_cancellation.IsCancellationRequested) return false;
            LogAtItem(TaskErrorCodes.FineTuneOutputLocked,
                $"{name}: another build held the lock '{Job.GetMetadata("LockFile")}' for more than {LockTimeoutSeconds} s (LmLockTimeoutSeconds)");
            return false;
        }
        // The up-to-date and resume/start-over decisions live in RunPlan; this task runs the tool and reports.
        string launcher = Job.GetMetadata("Launcher");
        string resultDir = Job.GetMetadata("ResultDir");
        var launch = new LaunchSettings { Launcher = launcher.Length == 0 ? LaunchSettings.Train : launcher };
        string[] exportArguments = Job.GetMetadata("ExportArguments").Split(';', StringSplitOptions.RemoveEmptyEntries);
        var plan = new RunPlan(name, Job.GetMetadata, ProjectDirectory, Job.GetMetadata("ToolVersion"),
            message => Log.LogMessage(MessageImportance.Normal, message),
            launch.IsExport ? [$"launcher export {string.Join(" ", exportArguments)}"] : null, resultDir);
        if (plan.IsUpToDate())
        {
            Log.LogMessage(MessageImportance.High, "{0}: up to date (its {1} folder holds a run of this job, data, model and tool: cache key {2})",
                name, launch.IsExport ? "export" : "output", CompletionStamp.ReadCacheKey(plan.StampFile));
            return true;
        }
        return launch.IsExport ? Export(plan, exportArguments) : TrainOrAdopt(plan, resultDir);
    }

    /// <summary>Trains the job into its output folder, or copies the result <paramref name="resultDir"/> made elsewhere there.</summary>
    private bool TrainOrAdopt(RunPlan plan, string resultDir)
    {
        string name = Job.ItemSpec;
        string outputDir = Job.GetMetadata("OutputDir");
        var decision = plan.Prepare(ToolVersion);
        if (decision.NotOwned)
        {
            LogAtItem(TaskErrorCodes.FineTuneOutputNotOwned,
                $"{name}: OutputDir '{outputDir}' is not empty and was not created by lm-tune for this job " +
                $"(it has no {OutputFolderMarker.FileName} of job '{name}' for this folder); lm-tune deletes only " +
                "folders it created, so nothing was changed: set OutputDir to a new or empty folder, or empty this one yourself");
            return false;
        }
        if (decision.Resumed is { } checkpoint)
            Log.LogMessage(MessageImportance.High, "{0}: resuming the interrupted run from {1}", name, checkpoint);
        string config = decision.ConfigFile!;
        List<string> command;
        if (resultDir.Length > 0)
        {
            // Trained elsewhere: lm-tune checks the folder is a model it reads and copies it, with the same output-folder rules.
            Log.LogMessage(MessageImportance.High, "{0}: adopting the run in {1} into {2} (ResultDir: nothing is trained)", name, resultDir, outputDir);
            command = ["adopt", config, "--from", resultDir];
        }
        else
        {
            Log.LogMessage(MessageImportance.High, "{0}: fine-tuning with lm-tune into {1}", name, outputDir);
            command = ["train", "--config", config];
        }
        var stopwatch = Stopwatch.StartNew();
        if (RunTool(command, outputDir) is not { } results) return false;
        plan.Complete(results);
        Result = ResultItem(name, results);
        string verb = resultDir.Length > 0 ? "adopted" : "fine-tuned";
        Log.LogMessage(MessageImportance.High,
            string.Create(CultureInfo.InvariantCulture, $"{name}: {verb} in {stopwatch.Elapsed.TotalSeconds:0.0} s{Summary(results)} -> {outputDir}"));
        return true;
    }

    /// <summary>
    /// Writes the job's export folder (<c>lm-tune export</c>) instead of training. The previous export's files, which
    /// its stamp lists, are removed first; a folder holding files without such a stamp is never emptied (LM2083).
    /// </summary>
    private bool Export(RunPlan plan, IReadOnlyList<string> exportArguments)
    {
        string name = Job.ItemSpec;
        string exportDir = Job.GetMetadata("ExportDir");
        if (!ExportFolder.RemovePreviousExport(exportDir, plan.StampFile))
        {
            LogAtItem(TaskErrorCodes.FineTuneExportDirNotOwned,
                $"{name}: ExportDir '{exportDir}' holds files that no export of this build wrote (it has no {CompletionStamp.FileName}); " +
                "nothing was changed: set ExportDir to a new or empty folder, or empty this one yourself");
            return false;
        }
        Log.LogMessage(MessageImportance.High, "{0}: exporting the job to {1} (Launcher=export: nothing is trained here)", name, exportDir);
        if (RunTool(["export", plan.JobFile, "--to", exportDir, .. exportArguments], exportDir) is not { } results) return false;
        plan.Complete(results);
        Result = ResultItem(name, results);
        Log.LogMessage(MessageImportance.High, "{0}: exported -> {1}; run {2} where the GPUs are", name, exportDir, Path.Combine(exportDir, "launch.sh"));
        return true;
    }

    /// <summary>Runs lm-tune with <paramref name="command"/> (plus --json and detailed log lines); its JSON results, or null after reporting why not.</summary>
    private JsonObject? RunTool(IReadOnlyList<string> command, string folder)
    {
        string name = Job.ItemSpec;
        // Detailed: lm-tune then writes its per-step lines, which the build log shows or hides by its own verbosity.
        var arguments = ToolArguments.Concat(command).Concat(["--json", "--verbosity", "detailed"]).ToList();
        Log.LogMessage(MessageImportance.Normal, "{0} {1}", ToolExecutable, string.Join(" ", arguments.Select(Quote)));

        var environment = new Dictionary<string, string>();
        if (!string.IsNullOrWhiteSpace(TorchBackend)) environment["LM_TORCH_BACKEND"] = TorchBackend.Trim();
        int exitCode;
        var lastLines = new Queue<string>();
        bool toolReportedError = false;
        using (_tool = ToolProcess.Start(ToolExecutable, arguments, ProjectDirectory, environment))
        {
            if (_cancellation.IsCancellationRequested) _tool.Stop(TimeSpan.FromSeconds(StopGraceSeconds));
            foreach (string line in _tool.ErrorLines())
            {
                toolReportedError |= LogToolLine(line);
                lastLines.Enqueue(line);
                if (lastLines.Count > 20) lastLines.Dequeue();
            }
            exitCode = _tool.WaitForExit();
            string stdout = _tool.StandardOutput;
            if (_cancellation.IsCancellationRequested || _tool.Stopped || exitCode == 130)
            {
                LogAtItem(TaskErrorCodes.FineTuneCancelled,
                    $"{name}: fine-tuning was cancelled; checkpoints saved so far stay in {folder} and the next build resumes from the last one");
                return null;
            }
            if (exitCode != 0)
            {
                if (!toolReportedError)
                    LogAtItem(TaskErrorCodes.FineTuneToolFailed,
                        $"{name}: lm-tune exited with code {exitCode} without reporting an error; its last lines: {string.Join(" | ", lastLines)}");
                return null;
            }
            if (ParseResults(stdout) is not { } results)
            {
                LogAtItem(TaskErrorCodes.FineTuneToolFailed,
                    $"{name}: lm-tune succeeded but did not print one JSON object on stdout; it printed: {Shorten(stdout)}");
                return null;
            }
            return results;
        }
    }

    private static string ToolVersion =>
        typeof(FineTune).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    /// <summary>Logs one stderr line; returns whether it was an error.</summary>
    private bool LogToolLine(string text)
    {
        var line = ToolLogLine.Parse(text);
        switch (line.Kind)
        {
            case ToolLineKind.Error or ToolLineKind.Warning:
                bool own = line.File is not null && File.Exists(ProjectPath.Full(line.File, ProjectDirectory));
                string file = own ? ProjectPath.Full(line.File!, ProjectDirectory) : Job.GetMetadata("ProjectFile");
                int lineNumber = own ? line.Line : ParseInt(Job.GetMetadata("Line"));
                int column = own ? line.Column : ParseInt(Job.GetMetadata("Column"));
                string message = $"{Job.ItemSpec}: {line.Text}";
                if (line.Kind == ToolLineKind.Error)
                    Log.LogError(null, line.Code ?? TaskErrorCodes.FineTuneToolFailed, null, file, lineNumber, column, 0, 0, message);
                else
                    Log.LogWarning(null, line.Code, null, file, lineNumber, column, 0, 0, message);
                return line.Kind == ToolLineKind.Error;
            case ToolLineKind.Step:
                Log.LogMessage(MessageImportance.Low, "{0}: {1}", Job.ItemSpec, line.Text);
                return false;
            default:
                Log.LogMessage(MessageImportance.Normal, "{0}: {1}", Job.ItemSpec, line.Text);
                return false;
        }
    }

    private void LogAtItem(string code, string message) =>
        Log.LogError(null, code, null, Job.GetMetadata("ProjectFile"), ParseInt(Job.GetMetadata("Line")),
            ParseInt(Job.GetMetadata("Column")), 0, 0, message);

    private static JsonObject? ParseResults(string stdout)
    {
        try
        {
            return JsonNode.Parse(stdout.Trim()) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static TaskItem ResultItem(string name, JsonObject results)
    {
        var item = new TaskItem(name);
        foreach (var (key, value) in results)
        {
            if (value is JsonValue scalar)
                item.SetMetadata(key, scalar.GetValueKind() == JsonValueKind.String ? scalar.GetValue<string>() : scalar.ToJsonString());
        }
        return item;
    }

    private static string Summary(JsonObject results)
    {
        var parts = new[] { "train_loss", "eval_loss", "perplexity" }
            .Where(k => results[k] is JsonValue v && v.GetValueKind() == JsonValueKind.Number)
            .Select(k => string.Create(CultureInfo.InvariantCulture, $"{k} {results[k]!.GetValue<double>():0.####}"));
        string joined = string.Join(", ", parts);
        return joined.Length == 0 ? "" : ": " + joined;
    }

    private static int ParseInt(string text) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) ? value : 0;

    private static string Quote(string argument) => argument.Contains(' ') ? $"\"{argument}\"" : argument;

    private static string Shorten(string text)
    {
        string trimmed = text.Trim();
        return trimmed.Length == 0 ? "(nothing)" : trimmed.Length <= 300 ? trimmed : trimmed[..300] + "…";
    }
}
