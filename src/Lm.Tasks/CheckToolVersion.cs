using System.Diagnostics;
using Lm.Tasks.Errors;
using Lm.Tasks.Tooling;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace Lm.Tasks;

/// <summary>
/// The version handshake before a job trains: <c>lm-tune --version</c> must print this package's version, as the job
/// file the tasks write is the contract between the two and each release may change it. A mismatch (a global
/// lm-tune older than the project's Lm.Build, say) fails with LM2060 naming both versions; a tool that prints no
/// version fails with LM2061. Runs only when a job is about to train, so an up-to-date build pays nothing.
/// </summary>
public sealed class CheckToolVersion : Microsoft.Build.Utilities.Task
{
    /// <summary>The job about to train (for the error's place in the project file).</summary>
    [Required] public ITaskItem Job { get; set; } = null!;

    /// <summary>The program that runs lm-tune (<c>ResolveFineTuneJobs.ToolExecutable</c>).</summary>
    [Required] public string ToolExecutable { get; set; } = "";

    /// <summary>Arguments before lm-tune's own (<c>ResolveFineTuneJobs.ToolArguments</c>).</summary>
    public string[] ToolArguments { get; set; } = [];

    /// <summary>The tool's working directory (the project folder, where a local tool manifest is found).</summary>
    [Required] public string ProjectDirectory { get; set; } = "";

    /// <summary>The version lm-tune must report; empty: this task assembly's own (the Lm.Build package's) version.</summary>
    public string? ExpectedVersion { get; set; }

    /// <summary>The version the tool reported.</summary>
    [Output] public string ReportedVersion { get; private set; } = "";

    public override bool Execute()
    {
        string expected = ToolVersion.WithoutBuildMetadata(string.IsNullOrWhiteSpace(ExpectedVersion) ? ToolVersion.Own : ExpectedVersion!.Trim());
        string command = string.Join(" ", new[] { ToolExecutable }.Concat(ToolArguments).Append("--version"));
        var (exitCode, output) = RunVersion();
        string reported = output.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0) ?? "";
        if (exitCode != 0 || reported.Length == 0 || reported.Any(char.IsWhiteSpace))
        {
            Report(TaskErrorCodes.FineTuneToolVersionUnknown,
                $"'{command}' did not print a version (exit code {exitCode}): {Shorten(output)}; Lm.Build {expected} needs lm-tune {expected}");
            return false;
        }
        ReportedVersion = ToolVersion.WithoutBuildMetadata(reported);
        if (!string.Equals(ReportedVersion, expected, StringComparison.OrdinalIgnoreCase))
        {
            Report(TaskErrorCodes.FineTuneToolVersionMismatch,
                $"lm-tune {ReportedVersion} ({command}) does not match Lm.Build {expected}: the two must be the same version. " +
                $"Pin it in the local tool manifest with 'dotnet tool update lm-tune --version {expected}' " +
                "(or set LmToolPath to lm-tune " + expected + ")");
            return false;
        }
        Log.LogMessage(MessageImportance.Low, "lm-tune {0} matches Lm.Build {1}", ReportedVersion, expected);
        return true;
    }

    private (int ExitCode, string Output) RunVersion()
    {
        var start = new ProcessStartInfo(ToolExecutable)
        {
            WorkingDirectory = ProjectDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in ToolArguments) start.ArgumentList.Add(argument);
        start.ArgumentList.Add("--version");
        try
        {
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            // A first `dotnet tool run` may take a few seconds; a tool that hangs on --version is broken.
            if (!process.WaitForExit(TimeSpan.FromSeconds(120)))
            {
                process.Kill(entireProcessTree: true);
                return (-1, "no answer within 120 s");
            }
            process.WaitForExit();
            return (process.ExitCode, stdout.Result.Length > 0 ? stdout.Result : stderr.Result);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, e.Message);
        }
    }

    private void Report(string code, string message)
    {
        string file = Job.GetMetadata("ProjectFile");
        _ = int.TryParse(Job.GetMetadata("Line"), out int line);
        _ = int.TryParse(Job.GetMetadata("Column"), out int column);
        Log.LogError(null, code, null, file, line, column, 0, 0, $"{Job.ItemSpec}: {message}");
    }

    private static string Shorten(string text)
    {
        string oneLine = string.Join(" ", text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0));
        return oneLine.Length <= 300 ? oneLine : oneLine[..300] + "...";
    }
}
