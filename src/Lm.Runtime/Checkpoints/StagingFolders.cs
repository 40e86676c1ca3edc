using System.Globalization;
using System.Text.RegularExpressions;

namespace Lm.Runtime.Checkpoints;

/// <summary>
/// The names lm-tune gives what it writes before a save is complete, and the cleanup of those a killed process left.
/// Every name carries its writer's <see cref="ProcessIdentity"/>, and staging always happens inside the folder being
/// written (never beside it), so a later run finds the leftovers where it writes and can tell stale ones (their
/// process is gone, or its id now belongs to a process started later) from those of a process still saving.
/// </summary>
internal static partial class StagingFolders
{
    /// <summary>The prefix of a checkpoint being written: <c>.tmp-checkpoint-STEP-PID-START</c>.</summary>
    public const string CheckpointPrefix = ".tmp-checkpoint-";

    /// <summary>The folder a model save stages its files in, inside the model folder.</summary>
    public static string NewModelStagingName() => $".lm-saving-{ProcessIdentity.Current.Tag}-{Guid.NewGuid():N}";

    /// <summary>The temp folder of the checkpoint of <paramref name="globalStep"/> written by this process.</summary>
    public static string CheckpointStagingName(int globalStep) =>
        string.Create(CultureInfo.InvariantCulture, $"{CheckpointPrefix}{globalStep}-{ProcessIdentity.Current.Tag}");

    /// <summary>The temp name of a file written by rename, next to <paramref name="fileName"/>.</summary>
    public static string TempFileName(string fileName) => $".{fileName}.lm-{ProcessIdentity.Current.Tag}.tmp";

    /// <summary>
    /// Whether <paramref name="name"/> is a staging name lm-tune writes whose owner is gone. Names lm-tune does not
    /// write, and staging names of live processes (this one included), are never stale.
    /// </summary>
    public static bool IsStale(string name)
    {
        var match = OwnedName().Match(name);
        if (!match.Success) return false;
        int pid = int.TryParse(match.Groups["pid"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out int p) ? p : -1;
        long? start = match.Groups["start"].Success
                      && long.TryParse(match.Groups["start"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out long s)
            ? s
            : null;
        return !ProcessIdentity.IsAlive(pid, start);
    }

    /// <summary>
    /// Deletes the stale staging folders and temp files directly inside <paramref name="folder"/>; returns their paths.
    /// Another process's save in progress is left alone.
    /// </summary>
    public static IReadOnlyList<string> RemoveStale(string folder)
    {
        var removed = new List<string>();
        if (!Directory.Exists(folder)) return removed;
        foreach (string entry in Directory.EnumerateFileSystemEntries(folder, ".*"))
        {
            if (!IsStale(Path.GetFileName(entry))) continue;
            try
            {
                // A link named like a staging folder is removed as a link, never followed.
                if (Directory.Exists(entry) && new DirectoryInfo(entry).LinkTarget is null) Directory.Delete(entry, recursive: true);
                else File.Delete(entry);
                removed.Add(entry);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Not removable now (permissions, a file held open on Windows); it is ignored by readers either way.
            }
        }
        return removed;
    }

    // .tmp-checkpoint-STEP-PID[-START][-old]     a checkpoint being written (ids without START: earlier versions)
    // .lm-saving-PID-START-GUID                  a model save's staged files
    // ..tmp-checkpoint-STEP-PID.saving-GUID      a model save staged beside a checkpoint by earlier versions
    // .NAME.lm-PID-START.tmp                     a file written by rename
    [GeneratedRegex(
        @"^(?:\.tmp-checkpoint-[0-9]+-(?<pid>[0-9]{1,10})(?:-(?<start>[0-9]{1,19}))?(?:-old)?" +
        @"|\.lm-saving-(?<pid>[0-9]{1,10})-(?<start>[0-9]{1,19})-[0-9a-f]{32}" +
        @"|\.\.tmp-checkpoint-[0-9]+-(?<pid>[0-9]{1,10})\.saving-[0-9a-f]{32}" +
        @"|\..+\.lm-(?<pid>[0-9]{1,10})-(?<start>[0-9]{1,19})\.tmp)$", RegexOptions.CultureInvariant)]
    private static partial Regex OwnedName();
}
