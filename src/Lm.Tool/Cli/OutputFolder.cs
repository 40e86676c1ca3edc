using System.Text.RegularExpressions;
using Lm.Runtime.Errors;

namespace Lm.Tool.Cli;

/// <summary>
/// run_clm.py's output-folder rules, checked before anything slow starts: a non-empty folder is refused unless
/// <c>--overwrite-output-dir</c> is given or it holds a <c>checkpoint-N</c> to resume from; and the folder must be writable.
/// </summary>
internal static partial class OutputFolder
{
    /// <summary>
    /// Checks <paramref name="folder"/>; returns the newest <c>checkpoint-N</c> folder when training should resume from it
    /// (as run_clm.py's <c>get_last_checkpoint</c>), else null.
    /// </summary>
    public static string? Prepare(string folder, bool overwrite, bool resumeAllowed)
    {
        string? lastCheckpoint = null;
        if (Directory.Exists(folder) && !overwrite)
        {
            lastCheckpoint = resumeAllowed ? LastCheckpoint(folder) : null;
            if (lastCheckpoint is null && Directory.EnumerateFileSystemEntries(folder).Any())
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

    /// <summary>The <c>checkpoint-N</c> subfolder with the largest N, or null.</summary>
    public static string? LastCheckpoint(string folder) =>
        Directory.EnumerateDirectories(folder)
            .Select(d => (Path: d, Match: CheckpointName().Match(Path.GetFileName(d))))
            .Where(p => p.Match.Success)
            .OrderByDescending(p => long.Parse(p.Match.Groups[1].Value))
            .Select(p => p.Path)
            .FirstOrDefault();

    [GeneratedRegex(@"^checkpoint-(\d+)$")]
    private static partial Regex CheckpointName();
}
