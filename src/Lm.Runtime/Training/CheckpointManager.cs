using System.Text.Json;
using System.Text.Json.Nodes;
using Lm.Runtime.Checkpoints;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Training;

/// <summary>
/// The <c>checkpoint-N</c> folders of an output directory, HF's <c>PREFIX_CHECKPOINT_DIR</c> layout. A checkpoint
/// is written into <c>.tmp-checkpoint-N-PID-START</c>, its files and folder are flushed to disk, then
/// <see cref="CompletionMarker"/> (the names and sizes of its files) is written and flushed, and only then is the
/// folder renamed to <c>checkpoint-N</c>; a process killed mid-save therefore leaves a temp folder and never a
/// <c>checkpoint-N</c> that looks complete. The next save removes temp folders whose process is gone, and only
/// those (<see cref="StagingFolders"/>). Which checkpoints are complete is decided by <see cref="CheckpointFolders"/>,
/// the rule the MSBuild tasks share. Rotation follows HF's <c>_sorted_checkpoints</c> / <c>_rotate_checkpoints</c>:
/// the oldest go first, the best checkpoint never.
/// </summary>
public sealed class CheckpointManager(string outputDir)
{
    /// <summary>HF's checkpoint folder prefix.</summary>
    public const string Prefix = CheckpointFolders.Prefix;

    /// <summary>Written last into every checkpoint: a folder without it (or whose files differ from it) is not a checkpoint.</summary>
    public const string CompletionMarker = CheckpointFolders.CompletionMarker;

    public string OutputDir { get; } = outputDir;

    /// <summary>The folder name HF gives the checkpoint of <paramref name="globalStep"/>.</summary>
    public string FolderFor(int globalStep) => Path.Combine(OutputDir, $"{Prefix}-{globalStep}");

    /// <summary>
    /// Writes the checkpoint of <paramref name="globalStep"/>: <paramref name="writeContents"/> fills a temp folder,
    /// the files are flushed, the marker is added and the folder renamed into place (replacing an older checkpoint of
    /// the same step). A save that fails removes its temp folder.
    /// </summary>
    public string Save(int globalStep, Action<string> writeContents)
    {
        Directory.CreateDirectory(OutputDir);
        StagingFolders.RemoveStale(OutputDir);
        string temp = Path.Combine(OutputDir, StagingFolders.CheckpointStagingName(globalStep));
        string final = FolderFor(globalStep);
        try
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            Directory.CreateDirectory(temp);
            writeContents(temp);
            DurableFiles.FlushTree(temp);
            var files = new JsonObject();
            foreach (var file in new DirectoryInfo(temp).EnumerateFiles().OrderBy(f => f.Name, StringComparer.Ordinal))
                files[file.Name] = file.Length;
            var marker = new JsonObject { ["global_step"] = globalStep, ["files"] = files };
            string markerPath = Path.Combine(temp, CompletionMarker);
            File.WriteAllText(markerPath, marker.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
            DurableFiles.Flush(markerPath);
            DurableFiles.Flush(temp);

            if (Directory.Exists(final))
            {
                // The same step saved twice (e.g. the last step and the epoch end): the new one replaces it.
                string old = temp + "-old";
                Directory.Move(final, old);
                Directory.Move(temp, final);
                Directory.Delete(old, recursive: true);
            }
            else
            {
                Directory.Move(temp, final);
            }
            DurableFiles.Flush(OutputDir);
        }
        finally
        {
            // Only reached with the temp folder still there when the save failed: nothing of it is a checkpoint.
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        }
        return final;
    }

    /// <summary>Whether <paramref name="folder"/> holds a finished checkpoint (marker present, file sizes as recorded).</summary>
    public static bool IsComplete(string folder) => CheckpointFolders.IsComplete(folder, out _);

    /// <summary>
    /// The newest complete <c>checkpoint-N</c> of <paramref name="outputDir"/> (what <c>resume_from_checkpoint: last</c>
    /// resumes from), or null; newer incomplete folders passed over, with the reason, are in <paramref name="skipped"/>.
    /// The CLI's and the build's automatic resume ask this.
    /// </summary>
    public static string? LastComplete(string outputDir, out IReadOnlyList<(string Path, string Reason)> skipped)
    {
        string? last = CheckpointFolders.LastComplete(outputDir, out var passed);
        skipped = passed;
        return last;
    }

    /// <summary>
    /// Complete checkpoints ordered by step, oldest first, with <paramref name="bestModelCheckpoint"/> moved to
    /// second-to-last as HF does so that rotation spares it. Incomplete <c>checkpoint-N</c> folders are left out
    /// and listed in <paramref name="incomplete"/>.
    /// </summary>
    public List<string> Sorted(string? bestModelCheckpoint, out List<string> incomplete)
    {
        var sorted = CheckpointFolders.Complete(OutputDir, out var skipped).Select(c => c.Path).ToList();
        incomplete = skipped.Select(s => s.Path).ToList();
        if (bestModelCheckpoint is not null)
        {
            int best = sorted.FindIndex(p => SamePath(p, bestModelCheckpoint));
            for (int i = best; best >= 0 && i < sorted.Count - 2; i++) (sorted[i], sorted[i + 1]) = (sorted[i + 1], sorted[i]);
        }
        return sorted;
    }

    /// <summary>HF's <c>_rotate_checkpoints</c>: deletes the oldest complete checkpoints beyond <paramref name="saveTotalLimit"/>.</summary>
    public IReadOnlyList<string> Rotate(int? saveTotalLimit, string? bestModelCheckpoint)
    {
        if (saveTotalLimit is not int limit || limit <= 0) return [];
        var sorted = Sorted(bestModelCheckpoint, out _);
        if (sorted.Count <= limit) return [];
        // With save_total_limit=1 and a best checkpoint that is not the newest, keep both so training can resume.
        if (bestModelCheckpoint is not null && limit == 1 && !SamePath(sorted[^1], bestModelCheckpoint)) limit = 2;
        var deleted = sorted.Take(Math.Max(0, sorted.Count - limit)).ToList();
        foreach (var folder in deleted) Directory.Delete(folder, recursive: true);
        return deleted;
    }

    /// <summary>
    /// HF's end of training with <c>save_total_limit=1</c> and a best checkpoint: every other checkpoint goes.
    /// </summary>
    public void KeepOnlyBest(string bestModelCheckpoint)
    {
        foreach (var folder in Sorted(bestModelCheckpoint, out _))
        {
            if (!SamePath(folder, bestModelCheckpoint)) Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// The checkpoint to resume from: <paramref name="resumeFrom"/> itself, or for <c>last</c> the newest complete
    /// <c>checkpoint-N</c>. Newer incomplete folders passed over are returned in <paramref name="skipped"/> with the reason.
    /// </summary>
    public string Resolve(string resumeFrom, out List<string> skipped)
    {
        skipped = new List<string>();
        if (string.Equals(resumeFrom, "last", StringComparison.OrdinalIgnoreCase) || string.Equals(resumeFrom, "true", StringComparison.OrdinalIgnoreCase))
        {
            string? last = CheckpointFolders.LastComplete(OutputDir, out var passed);
            skipped = passed.Select(p => $"{p.Path}: {p.Reason}").ToList();
            if (last is null)
                throw new LmException(ErrorCodes.CheckpointNotFound,
                    $"resume_from_checkpoint=last: no complete checkpoint-N folder in '{OutputDir}'" +
                    (passed.Count > 0 ? $" ({passed.Count} incomplete: {string.Join("; ", passed.Select(p => $"{Path.GetFileName(p.Path)}: {p.Reason}"))})" : ""))
                { File = OutputDir };
            return last;
        }
        if (!Directory.Exists(resumeFrom))
            throw new LmException(ErrorCodes.CheckpointNotFound, $"resume_from_checkpoint: folder '{resumeFrom}' does not exist") { File = resumeFrom };
        if (!CheckpointFolders.IsComplete(resumeFrom, out string reason))
            throw new LmException(ErrorCodes.CheckpointInvalid,
                $"resume_from_checkpoint: '{resumeFrom}' is not a complete checkpoint: {reason}; use an earlier checkpoint")
            { File = resumeFrom };
        return resumeFrom;
    }

    private static bool SamePath(string a, string b) =>
        string.Equals(Path.GetFullPath(a).TrimEnd(Path.DirectorySeparatorChar), Path.GetFullPath(b).TrimEnd(Path.DirectorySeparatorChar), StringComparison.Ordinal);
}
