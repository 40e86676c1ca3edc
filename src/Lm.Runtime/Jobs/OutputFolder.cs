using Lm.Runtime.Errors;
using Lm.Runtime.Training;

namespace Lm.Runtime.Jobs;

/// <summary>
/// run_clm.py's output-folder rules, checked before anything slow starts: a non-empty folder is refused unless
/// <c>--overwrite-output-dir</c> is given or it holds a complete <c>checkpoint-N</c> to resume from; and the folder
/// must be writable. As in HF, <c>--overwrite-output-dir</c> writes into the folder and deletes nothing in it.
/// </summary>
public static class OutputFolder
{
    /// <summary>
    /// Checks <paramref name="folder"/>; returns the newest complete <c>checkpoint-N</c> folder when training should
    /// resume from it (run_clm.py's <c>get_last_checkpoint</c>, with the trainer's own completeness rule), else null.
    /// </summary>
    public static string? Prepare(string folder, bool overwrite, bool resumeAllowed, Action<string>? info = null)
    {
        string? lastCheckpoint = null;
        if (Directory.Exists(folder) && !overwrite)
        {
            lastCheckpoint = resumeAllowed ? LastCheckpoint(folder, info) : null;
            // The build step's ownership marker is lm-tune's own bookkeeping, not content (docs/msbuild.md).
            if (lastCheckpoint is null && Directory.EnumerateFileSystemEntries(folder).Any(e => Path.GetFileName(e) != OutputFolderMarker.FileName))
                throw new LmException(ErrorCodes.OutputDirNotEmpty,
                    $"output directory '{folder}' already exists and is not empty; use --overwrite-output-dir to write into it") { File = folder };
        }
        EnsureWritable(folder);
        return lastCheckpoint;
    }

    /// <summary>Creates the folder if needed and proves a file can be written in it (LM0507 otherwise).</summary>
    public static void EnsureWritable(string folder)
    {
        try
        {
            Directory.CreateDirectory(folder);
            string probe = Path.Combine(folder, $".lm-tune-write-test-{Environment.ProcessId}");
            File.WriteAllBytes(probe, Array.Empty<byte>());
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LmException(ErrorCodes.OutputDirNotWritable, $"output directory '{folder}' cannot be written: {e.Message}", e) { File = folder };
        }
    }

    /// <summary>
    /// The newest complete <c>checkpoint-N</c> subfolder, or null: the resolver <c>resume_from_checkpoint: last</c>
    /// uses, so a newer folder whose save was cut short is passed over (and reported) instead of failing the resume.
    /// </summary>
    public static string? LastCheckpoint(string folder, Action<string>? info = null)
    {
        string? last = CheckpointManager.LastComplete(folder, out var skipped);
        foreach (var (path, reason) in skipped)
            info?.Invoke($"ignored incomplete checkpoint {path}: {reason}");
        return last;
    }
}
