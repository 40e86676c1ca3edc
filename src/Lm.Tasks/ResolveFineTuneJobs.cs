using System.Collections;
using Lm.Tasks.Errors;
using Lm.Tasks.Jobs;
using Lm.Tasks.Tooling;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace Lm.Tasks;

/// <summary>
/// Validates the project's <c>LanguageModelFineTune</c> items, merges each with its config class's compiled
/// configuration, writes each resolved job to <c>obj/lm/NAME.job.json</c> (only when it changed, so its timestamp is
/// a valid incremental input) and returns the jobs with the inputs and outputs of the fine-tune target.
/// </summary>
public sealed class ResolveFineTuneJobs : Microsoft.Build.Utilities.Task
{
    /// <summary>The <c>@(LanguageModelFineTune)</c> items.</summary>
    [Required] public ITaskItem[] Jobs { get; set; } = [];

    /// <summary><c>$(MSBuildProjectDirectory)</c>: relative paths in metadata are relative to it.</summary>
    [Required] public string ProjectDirectory { get; set; } = "";

    /// <summary>Folder for job files, stamps of starts, and locks (<c>$(LmFineTuneRoot)</c>, default <c>obj/lm/</c>).</summary>
    [Required] public string JobRoot { get; set; } = "";

    /// <summary>Folders inside the project where job outputs may go (<c>$(BaseIntermediateOutputPath)</c>, <c>$(BaseOutputPath)</c>).</summary>
    public string[] BuildOutputRoots { get; set; } = [];

    /// <summary>The compiled assembly (<c>@(IntermediateAssembly)</c>), read for attributed config classes.</summary>
    public string? CompiledAssembly { get; set; }

    /// <summary><c>$(LmToolPath)</c>: lm-tune's executable or <c>lm-tune.dll</c>; PATH and ~/.dotnet/tools when empty.</summary>
    public string? ToolPath { get; set; }

    /// <summary><c>$(LmDevice)</c>: the device for jobs whose item and class set none.</summary>
    public string? DefaultDevice { get; set; }

    /// <summary><c>$(LmLauncher)</c>: the launcher (train or export) for jobs whose item and class set none.</summary>
    public string? DefaultLauncher { get; set; }

    /// <summary>One item per valid job, identity = job name. Metadata: JobFile, JobHash, ToolVersion, HashCacheFile, StampFile, StartedFile, ResumeFile, LockFile,
    /// OutputDir, Inputs (the target's inputs), ProjectFile, Line, Column, CopyToOutputDirectory, and the launch settings
    /// Launcher, ExportDir, ExportArguments, ResultDir (see LaunchSettings).</summary>
    [Output] public ITaskItem[] ResolvedJobs { get; private set; } = [];

    /// <summary>The program that runs lm-tune (the tool itself, or dotnet for a .dll).</summary>
    [Output] public string ToolExecutable { get; private set; } = "";

    /// <summary>Arguments before lm-tune's own (the .dll's path when run through dotnet).</summary>
    [Output] public string[] ToolArguments { get; private set; } = [];

    public override bool Execute()
    {
        var items = Jobs.Select(ToJobItem).ToList();
        IReadOnlyList<CompiledJobConfiguration> configurations = [];
        IReadOnlyList<string> typeNames = [];
        if (CompiledAssembly is { Length: > 0 } assembly && File.Exists(assembly))
            configurations = CompiledJobConfiguration.ReadFrom(assembly, out typeNames);

        var resolver = new JobResolver(ProjectDirectory, JobRoot, BuildOutputRoots, configurations, typeNames, DefaultDevice ?? "", DefaultLauncher ?? "");
        var jobs = resolver.Resolve(items);
        foreach (var diagnostic in resolver.Diagnostics) Report(diagnostic);
        if (Log.HasLoggedErrors) return false;
        if (jobs.Count == 0) return true;

        var tool = ToolCommand.Locate(ToolPath, ProjectDirectory);
        if (tool is null)
        {
            string looked = string.IsNullOrWhiteSpace(ToolPath) ? "lm-tune is not on PATH nor in ~/.dotnet/tools" : $"LmToolPath '{ToolPath}' does not exist";
            Report(new JobDiagnostic(TaskErrorCodes.FineTuneToolNotFound,
                $"{looked}; install it with 'dotnet tool install -g lm-tune' or set LmToolPath (or build with -p:LmSkipFineTune=true)",
                jobs[0].Location));
            return false;
        }
        ToolExecutable = tool.Executable;
        ToolArguments = [.. tool.PrefixArguments];

        string toolVersion = tool.Version();
        ResolvedJobs = jobs.Select(job =>
        {
            if (job.DefaultedSaveTotalLimit)
                Log.LogMessage(MessageImportance.Normal,
                    "{0}: save_total_limit 1 (the build's default: the latest checkpoint, to resume a cancelled build, and the final model; set SaveTotalLimit to keep more)",
                    job.Name);
            if (job.WriteJobFileIfChanged())
                Log.LogMessage(MessageImportance.Normal, "{0}: resolved job configuration written to {1}", job.Name, job.JobFile);
            var item = new TaskItem(job.Name);
            item.SetMetadata("JobFile", job.JobFile);
            item.SetMetadata("JobHash", job.JobHash);
            item.SetMetadata("ToolVersion", toolVersion);
            item.SetMetadata("HashCacheFile", job.HashCacheFile);
            item.SetMetadata("StampFile", job.StampFile);
            item.SetMetadata("StartedFile", job.StartedFile);
            item.SetMetadata("ResumeFile", job.ResumeFile);
            item.SetMetadata("LockFile", job.LockFile);
            item.SetMetadata("OutputDir", job.OutputDir);
            // The launch settings and an adopted result's listing are an input, and so are the result's files: a changed
            // setting exports again, a changed, added or deleted result file adopts again.
            var resultFiles = job.WriteLaunchFileIfChanged() is { } launchFile ? [launchFile] : new List<string>();
            if (job.Launch.ResultDir is { } resultDir)
                resultFiles.AddRange(Directory.EnumerateFiles(resultDir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal));
            item.SetMetadata("Inputs", string.Join(";", new[] { job.JobFile }.Concat(job.InputFiles).Concat(resultFiles).Concat(tool.VersionFiles).Select(Escape)));
            item.SetMetadata("Launcher", job.Launch.Launcher);
            item.SetMetadata("ExportDir", job.Launch.ExportDir);
            item.SetMetadata("ExportArguments", string.Join(";", job.Launch.ExportArguments().Select(Escape)));
            item.SetMetadata("ResultDir", job.Launch.ResultDir ?? "");
            item.SetMetadata("ProjectFile", job.Location.File);
            item.SetMetadata("Line", job.Location.Line.ToString(System.Globalization.CultureInfo.InvariantCulture));
            item.SetMetadata("Column", job.Location.Column.ToString(System.Globalization.CultureInfo.InvariantCulture));
            item.SetMetadata("CopyToOutputDirectory", job.CopyToOutputDirectory);
            return (ITaskItem)item;
        }).ToArray();
        return true;
    }

    private static JobItem ToJobItem(ITaskItem item)
    {
        var metadata = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (DictionaryEntry entry in item.CloneCustomMetadata())
            metadata[(string)entry.Key] = (string?)entry.Value ?? "";
        return new JobItem(item.ItemSpec, metadata, item.GetMetadata("DefiningProjectFullPath"));
    }

    private void Report(JobDiagnostic d)
    {
        if (d.IsWarning)
            Log.LogWarning(null, d.Code, null, d.Location.File, d.Location.Line, d.Location.Column, 0, 0, d.Message);
        else
            Log.LogError(null, d.Code, null, d.Location.File, d.Location.Line, d.Location.Column, 0, 0, d.Message);
    }

    /// <summary>MSBuild's escaping, so a path with <c>;</c>, <c>%</c> or wildcards stays one literal file in the Inputs list.</summary>
    private static string Escape(string path)
    {
        var escaped = new System.Text.StringBuilder(path.Length);
        foreach (char c in path)
        {
            if (c is '%' or ';' or '*' or '?' or '@' or '$' or '\'' or '(' or ')') escaped.Append('%').Append(((int)c).ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            else escaped.Append(c);
        }
        return escaped.ToString();
    }
}
