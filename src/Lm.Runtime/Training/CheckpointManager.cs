using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Training;

/// <summary>
/// The <c>checkpoint-N</c> folders of an output directory, HF's <c>PREFIX_CHECKPOINT_DIR</c> layout. A checkpoint
/// is written into <c>.tmp-checkpoint-N-PID</c>, finished with <see cref="CompletionMarker"/>, and only then renamed
/// to <c>checkpoint-N</c>; a process killed mid-save therefore leaves a temp folder (ignored, and removed by the
/// next save) and never a <c>checkpoint-N</c> that looks complete. Rotation follows HF's
/// <c>_sorted_checkpoints</c> / <c>_rotate_checkpoints</c>: the oldest go first, the best checkpoint never.
/// </summary>
public sealed partial class CheckpointManager(string outputDir)
{
    /// <summary>HF's checkpoint folder prefix.</summary>
    public const string Prefix = "checkpoint";

    /// <summary>Written last into every checkpoint: a folder without it is not a checkpoint.</summary>
    public const string CompletionMarker = "checkpoint_complete.json";

    private const string TempPrefix = ".tmp-checkpoint-";

    public string OutputDir { get; } = outputDir;

    /// <summary>The folder name HF gives the checkpoint of <paramref name="globalStep"/>.</summary>
    public string FolderFor(int globalStep) => Path.Combine(OutputDir, $"{Prefix}-{globalStep}");

    /// <summary>
    /// Writes the checkpoint of <paramref name="globalStep"/>: <paramref name="writeContents"/> fills a temp folder,
    /// the marker is added and the folder renamed into place (replacing an older checkpoint of the same step).
    /// </summary>
    public string Save(int globalStep, Action<string> writeContents)
    {
        Directory.CreateDirectory(OutputDir);
        RemoveStaleTempFolders();
        string temp = Path.Combine(OutputDir, $"{TempPrefix}{globalStep}-{Environment.ProcessId}");
        if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        Directory.CreateDirectory(temp);
        writeContents(temp);
        var files = new JsonObject();
        foreach (var file in new DirectoryInfo(temp).EnumerateFiles().OrderBy(f => f.Name, StringComparer.Ordinal))
            files[file.Name] = file.Length;
        var marker = new JsonObject { ["global_step"] = globalStep, ["files"] = files };
        File.WriteAllText(Path.Combine(temp, CompletionMarker), marker.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");

        string final = FolderFor(globalStep);
        if (Directory.Exists(final))
        {
            // The same step saved twice (e.g. the last step and the epoch end): the new one replaces it.
            string old = Path.Combine(OutputDir, $"{TempPrefix}{globalStep}-{Environment.ProcessId}-old");
            Directory.Move(final, old);
            Directory.Move(temp, final);
            Directory.Delete(old, recursive: true);
        }
        else
        {
            Directory.Move(temp, final);
        }
        return final;
    }

    /// <summary>Whether <paramref name="folder"/> holds a finished checkpoint.</summary>
    public static bool IsComplete(string folder) => File.Exists(Path.Combine(folder, CompletionMarker));

    /// <summary>
    /// Complete checkpoints ordered by step, oldest first, with <paramref name="bestModelCheckpoint"/> moved to
    /// second-to-last as HF does so that rotation spares it. Incomplete <c>checkpoint-N</c> folders are left out
    /// and listed in <paramref name="incomplete"/>.
    /// </summary>
    public List<string> Sorted(string? bestModelCheckpoint, out List<string> incomplete)
    {
        incomplete = new List<string>();
        var found = new List<(int Step, string Path)>();
        if (Directory.Exists(OutputDir))
        {
            foreach (var dir in Directory.EnumerateDirectories(OutputDir, $"{Prefix}-*"))
            {
                var match = StepPattern().Match(Path.GetFileName(dir));
                if (!match.Success) continue;
                if (!IsComplete(dir))
                {
                    incomplete.Add(dir);
                    continue;
                }
                found.Add((int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), dir));
            }
        }
        var sorted = found.OrderBy(c => c.Step).Select(c => c.Path).ToList();
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
    /// <c>checkpoint-N</c>. Incomplete folders passed over are returned in <paramref name="skipped"/>.
    /// </summary>
    public string Resolve(string resumeFrom, out List<string> skipped)
    {
        skipped = new List<string>();
        if (string.Equals(resumeFrom, "last", StringComparison.OrdinalIgnoreCase) || string.Equals(resumeFrom, "true", StringComparison.OrdinalIgnoreCase))
        {
            var sorted = Sorted(null, out skipped);
            if (sorted.Count == 0)
                throw new LmException(ErrorCodes.CheckpointNotFound,
                    $"resume_from_checkpoint=last: no complete checkpoint-N folder in '{OutputDir}'" +
                    (skipped.Count > 0 ? $" ({skipped.Count} incomplete: {string.Join(", ", skipped.Select(Path.GetFileName))})" : ""))
                { File = OutputDir };
            return sorted[^1];
        }
        if (!Directory.Exists(resumeFrom))
            throw new LmException(ErrorCodes.CheckpointNotFound, $"resume_from_checkpoint: folder '{resumeFrom}' does not exist") { File = resumeFrom };
        if (!IsComplete(resumeFrom))
            throw new LmException(ErrorCodes.CheckpointInvalid,
                $"resume_from_checkpoint: '{resumeFrom}' has no {CompletionMarker}: the save that wrote it did not finish; use an earlier checkpoint")
            { File = resumeFrom };
        return resumeFrom;
    }

    private void RemoveStaleTempFolders()
    {
        foreach (var dir in Directory.EnumerateDirectories(OutputDir, TempPrefix + "*"))
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
                // Another process may still be writing it; it is ignored either way.
            }
        }
    }

    private static bool SamePath(string a, string b) =>
        string.Equals(Path.GetFullPath(a).TrimEnd(Path.DirectorySeparatorChar), Path.GetFullPath(b).TrimEnd(Path.DirectorySeparatorChar), StringComparison.Ordinal);

    [GeneratedRegex(@"^checkpoint-([0-9]+)$")]
    private static partial Regex StepPattern();
}
