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
        foreach (string relative in ListedFiles(stampFile))
        {
            string path = Path.GetFullPath(Path.Combine(root, relative));
            // The stamp is a file in the folder like any other: a path leading out of the folder is not followed.
            if (!path.StartsWith(root, StringComparison.Ordinal)) continue;
            if (File.Exists(path)) File.Delete(path);
        }
        File.Delete(stampFile);
        RemoveEmptyFolders(root);
        return true;
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

    private static void RemoveEmptyFolders(string folder)
    {
        foreach (string child in Directory.EnumerateDirectories(folder)) RemoveEmptyFolders(child);
        if (!Directory.EnumerateFileSystemEntries(folder).Any()) Directory.Delete(folder);
    }
}
