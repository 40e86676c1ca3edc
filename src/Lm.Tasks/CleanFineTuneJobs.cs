using Lm.Runtime.Jobs;
using Lm.Tasks.Jobs;
using Microsoft.Build.Framework;

namespace Lm.Tasks;

/// <summary>
/// <c>dotnet clean</c> for fine-tune jobs: deletes each job's files in the job root and its output folder. MSBuild's
/// own clean only deletes recorded files under the configuration's obj/ and bin/ folders, and the default output
/// folder (<c>obj/lm/NAME/</c>) is shared by all configurations. An output folder is deleted only when it carries the
/// marker the build wrote when it created the folder for this job (<see cref="OutputFolderMarker"/>: same project,
/// same job, same absolute path), so an OutputDir naming a user's folder, or a copy of an output folder, is never
/// deleted.
/// </summary>
public sealed class CleanFineTuneJobs : Microsoft.Build.Utilities.Task
{
    /// <summary>The <c>@(LanguageModelFineTune)</c> items.</summary>
    [Required] public ITaskItem[] Jobs { get; set; } = [];

    /// <summary><c>$(MSBuildProjectDirectory)</c>.</summary>
    [Required] public string ProjectDirectory { get; set; } = "";

    /// <summary>The folder holding the job files (<c>$(LmFineTuneRoot)</c>).</summary>
    [Required] public string JobRoot { get; set; } = "";

    /// <summary><c>$(OutDir)</c>: MSBuild's clean deletes the copied model files; their emptied NAME/ folders go here.</summary>
    public string? OutDir { get; set; }

    public override bool Execute()
    {
        string root = ProjectPath.Full(JobRoot, ProjectDirectory);
        foreach (var item in Jobs)
        {
            string name = item.ItemSpec;
            string outputDir = item.GetMetadata("OutputDir") is { Length: > 0 } dir
                ? ProjectPath.Full(dir, ProjectDirectory)
                : Path.Combine(root, name);
            switch (OutputFolderMarker.Check(outputDir, ProjectDirectory, name))
            {
                case OutputFolderMarker.Ownership.Owned:
                    Log.LogMessage(MessageImportance.Normal, "{0}: deleting {1}", name, outputDir);
                    Directory.Delete(outputDir, recursive: true);
                    break;
                case OutputFolderMarker.Ownership.Foreign:
                    Log.LogMessage(MessageImportance.Normal,
                        "{0}: kept {1}: lm-tune did not create it for this job (no {2} of this job for this folder)",
                        name, outputDir, OutputFolderMarker.FileName);
                    break;
            }
            // An export the build wrote (Launcher=export): the files its stamp lists; anything else there stays.
            string exportDir = item.GetMetadata("ExportDir") is { Length: > 0 } export
                ? ProjectPath.Full(export, ProjectDirectory)
                : Path.Combine(root, name + ".export");
            if (File.Exists(Path.Combine(exportDir, CompletionStamp.FileName)))
            {
                Log.LogMessage(MessageImportance.Normal, "{0}: deleting the export in {1}", name, exportDir);
                ExportFolder.RemovePreviousExport(exportDir, Path.Combine(exportDir, CompletionStamp.FileName));
            }
            foreach (string suffix in new[] { ".job.json", ".started", ".resume.json", ".lock", ".launch.txt" })
                File.Delete(Path.Combine(root, name + suffix));
            if (!string.IsNullOrEmpty(OutDir)) DeleteIfEmpty(Path.Combine(ProjectPath.Full(OutDir, ProjectDirectory), name));
        }
        // The remembered content hashes of the jobs' inputs (RunPlan): only a cache, gone with the jobs.
        File.Delete(Path.Combine(root, ResolvedJob.ContentHashFileName));
        DeleteIfEmpty(root);
        return true;
    }

    private static void DeleteIfEmpty(string folder)
    {
        if (Directory.Exists(folder) && !Directory.EnumerateFileSystemEntries(folder).Any()) Directory.Delete(folder);
    }
}
