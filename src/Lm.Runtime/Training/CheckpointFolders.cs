using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lm.Runtime.Training;

/// <summary>
/// The file logic of an output directory's <c>checkpoint-N</c> folders: which names are checkpoints, which
/// checkpoints are complete, and which one <c>resume_from_checkpoint: last</c> picks. It has no torch types and no
/// dependency outside the base library because the MSBuild tasks compile this same file (linked) to choose the
/// checkpoint an interrupted build resumes from: one rule, and libtorch never loads into the MSBuild node.
/// </summary>
internal static class CheckpointFolders
{
    /// <summary>HF's checkpoint folder prefix (<c>PREFIX_CHECKPOINT_DIR</c>).</summary>
    public const string Prefix = "checkpoint";

    /// <summary>Written last into every checkpoint: the file names and sizes the checkpoint consists of.</summary>
    public const string CompletionMarker = "checkpoint_complete.json";

    /// <summary>
    /// The step of a folder named <c>checkpoint-N</c>. Names whose N is not a plain decimal that fits a step count
    /// (<c>checkpoint-99999999999999999999</c>, <c>checkpoint--4</c>, <c>checkpoint-1e3</c>) are not checkpoints.
    /// </summary>
    public static bool TryParseStep(string folderName, out int step)
    {
        step = -1;
        if (!folderName.StartsWith(Prefix + "-", StringComparison.Ordinal)) return false;
        var digits = folderName.AsSpan(Prefix.Length + 1);
        if (digits.Length == 0) return false;
        foreach (char c in digits)
        {
            if (c is < '0' or > '9') return false;
        }
        return int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out step);
    }

    /// <summary>
    /// Whether <paramref name="folder"/> holds a finished checkpoint: its marker is readable and every file the marker
    /// lists exists with the size it records. A save cut short (no marker) and a checkpoint whose files were truncated
    /// or lost after the save (sizes differ) are both incomplete; <paramref name="reason"/> says which.
    /// </summary>
    public static bool IsComplete(string folder, out string reason)
    {
        string markerPath = Path.Combine(folder, CompletionMarker);
        if (!File.Exists(markerPath))
        {
            reason = $"it has no {CompletionMarker} (a save that did not finish)";
            return false;
        }
        JsonObject? files;
        try
        {
            files = JsonNode.Parse(File.ReadAllText(markerPath)) is JsonObject marker ? marker["files"] as JsonObject : null;
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            files = null;
        }
        if (files is null)
        {
            reason = $"its {CompletionMarker} is not a JSON object with the checkpoint's \"files\"";
            return false;
        }
        foreach (var (name, value) in files)
        {
            // The marker names files of this folder only; anything path-like is not a marker lm-tune wrote.
            if (name.Length == 0 || name is "." or ".." || name.IndexOfAny(['/', '\\', '\0']) >= 0)
            {
                reason = $"its {CompletionMarker} names '{name}', which is not a file name";
                return false;
            }
            if (value is not JsonValue size || size.GetValueKind() != JsonValueKind.Number || !size.TryGetValue(out long expected))
            {
                reason = $"its {CompletionMarker} gives no size for '{name}'";
                return false;
            }
            var info = new FileInfo(Path.Combine(folder, name));
            if (!info.Exists)
            {
                reason = $"'{name}' listed in its {CompletionMarker} is missing";
                return false;
            }
            if (info.Length != expected)
            {
                reason = $"'{name}' has {info.Length} bytes but its {CompletionMarker} records {expected}";
                return false;
            }
        }
        reason = "";
        return true;
    }

    /// <summary>
    /// The complete checkpoints of <paramref name="outputDir"/> ordered by step, oldest first. Folders named like a
    /// checkpoint but incomplete are listed in <paramref name="incomplete"/> with the reason.
    /// </summary>
    public static List<(int Step, string Path)> Complete(string outputDir, out List<(string Path, string Reason)> incomplete)
    {
        incomplete = [];
        var found = new List<(int Step, string Path)>();
        if (!Directory.Exists(outputDir)) return found;
        foreach (string dir in Directory.EnumerateDirectories(outputDir, Prefix + "-*"))
        {
            if (!TryParseStep(Path.GetFileName(dir), out int step)) continue;
            if (IsComplete(dir, out string reason)) found.Add((step, dir));
            else incomplete.Add((dir, reason));
        }
        found.Sort((a, b) => a.Step.CompareTo(b.Step));
        incomplete.Sort((a, b) => string.CompareOrdinal(a.Path, b.Path));
        return found;
    }

    /// <summary>
    /// HF's <c>get_last_checkpoint</c> restricted to complete checkpoints: the newest complete <c>checkpoint-N</c>,
    /// or null. Newer incomplete folders passed over are listed in <paramref name="skipped"/>.
    /// </summary>
    public static string? LastComplete(string outputDir, out List<(string Path, string Reason)> skipped)
    {
        var complete = Complete(outputDir, out var incomplete);
        int newest = complete.Count == 0 ? -1 : complete[^1].Step;
        skipped = incomplete.Where(i => TryParseStep(Path.GetFileName(i.Path), out int step) && step > newest).ToList();
        return complete.Count == 0 ? null : complete[^1].Path;
    }
}
