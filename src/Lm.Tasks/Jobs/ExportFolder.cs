using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lm.Tasks.Jobs;

/// <summary>
/// The folder a <c>Launcher="export"</c> job is exported to. <c>lm-tune export</c> writes only into a new or empty
/// folder, so a changed job first removes what the previous export wrote: exactly the files its stamp lists (the
/// tool's <c>files</c> result), never anything else — a run started in the folder, or a user's file, stays, and the
/// export then stops with lm-tune's "not empty" error naming the folder.
/// </summary>
internal static class ExportFolder
{
    /// <summary>
    /// Removes the previous export's files and the stamp, then the folders they leave empty. False (nothing touched)
    /// when the folder holds files but no stamp: the build did not write it.
    /// </summary>
    public static bool RemovePreviousExport(string folder, string stampFile)
    {
        if (!Directory.Exists(folder) || !Directory.EnumerateFileSystemEntries(folder).Any()) return true;
        if (!File.Exists(stampFile)) return false;
        string root = Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar) + Path.DirectorySeparatorChar;
        var emptied = new HashSet<string>(StringComparer.Ordinal);
        foreach (string relative in ListedFiles(stampFile))
        {
            string path = Path.GetFullPath(Path.Combine(root, relative));
            // The stamp is a file in the folder like any other: a path leading out of the folder, or through a linked
            // folder (inputs/ linked to the user's data), is not followed.
            if (!path.StartsWith(root, StringComparison.Ordinal) || ThroughLink(root, path)) continue;
            if (File.Exists(path)) File.Delete(path);
            for (string? parent = Path.GetDirectoryName(path); parent is not null && parent.Length >= root.Length - 1; parent = Path.GetDirectoryName(parent))
                emptied.Add(parent);
        }
        File.Delete(stampFile);
        // Only the folders that held listed files (the export folder included), deepest first, and only when nothing
        // else is left in them: a folder the user made stays.
        foreach (string parent in emptied.OrderByDescending(p => p.Length))
            if (Directory.Exists(parent) && !Directory.EnumerateFileSystemEntries(parent).Any()) Directory.Delete(parent);
        return true;
    }

    /// <summary>Whether a folder between <paramref name="root"/> and <paramref name="path"/> is a symbolic link or junction.</summary>
    private static bool ThroughLink(string root, string path)
    {
        for (string? folder = Path.GetDirectoryName(path); folder is not null && folder.Length >= root.Length; folder = Path.GetDirectoryName(folder))
            if (Directory.Exists(folder) && (File.GetAttributes(folder) & FileAttributes.ReparsePoint) != 0) return true;
        return false;
    }

    private static IEnumerable<string> ListedFiles(string stampFile)
    {
        try
        {
            return JsonNode.Parse(File.ReadAllText(stampFile))?["results"]?["files"] is JsonArray files
                ? files.OfType<JsonValue>().Where(f => f.GetValueKind() == JsonValueKind.String).Select(f => f.GetValue<string>()).ToList()
                : [];
        }
        catch (JsonException)
        {
            return [];
        }
    }
}
