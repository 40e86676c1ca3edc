using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lm.Runtime.Jobs;

/// <summary>
/// <c>.lm-tune-output.json</c>: written into an output folder by the lm-tune build step that created it, recording
/// which job (project folder + job name) it belongs to and the folder's own absolute path. lm-tune deletes a folder
/// only when it carries this marker for the same job at the same path, so an <c>OutputDir</c> that names a user's
/// folder (or a copy of an output folder) is never wiped. The MSBuild tasks compile this file (linked) and write and
/// check the marker; the CLI reads <see cref="FileName"/> so that a folder holding only the marker counts as empty.
/// </summary>
internal static class OutputFolderMarker
{
    /// <summary>The marker's file name.</summary>
    public const string FileName = ".lm-tune-output.json";

    /// <summary>What a folder is to a job.</summary>
    public enum Ownership
    {
        /// <summary>The folder does not exist.</summary>
        Missing,

        /// <summary>The folder exists and holds nothing but, at most, a marker (of another job or path).</summary>
        Empty,

        /// <summary>The folder carries this job's marker for this path: lm-tune created it and may delete it.</summary>
        Owned,

        /// <summary>The folder holds files and no marker of this job at this path: never deleted.</summary>
        Foreign,
    }

    /// <summary>Classifies <paramref name="folder"/> for the job <paramref name="jobName"/> of the project in <paramref name="projectDirectory"/>.</summary>
    public static Ownership Check(string folder, string projectDirectory, string jobName)
    {
        string full = Normalize(folder);
        if (File.Exists(full)) return Ownership.Foreign;
        if (!Directory.Exists(full)) return Ownership.Missing;
        // A link to a folder is the user's way of pointing at a folder elsewhere: lm-tune did not create what it names.
        if (new DirectoryInfo(full).LinkTarget is not null) return Ownership.Foreign;
        if (IsMarkedFor(full, projectDirectory, jobName)) return Ownership.Owned;
        return Directory.EnumerateFileSystemEntries(full).Any(e => Path.GetFileName(e) != FileName) ? Ownership.Foreign : Ownership.Empty;
    }

    /// <summary>Creates <paramref name="folder"/> if needed and writes the marker for the job into it.</summary>
    public static void Write(string folder, string projectDirectory, string jobName, string toolVersion)
    {
        string full = Normalize(folder);
        Directory.CreateDirectory(full);
        var marker = new JsonObject
        {
            ["created_by"] = "lm-tune",
            ["version"] = toolVersion,
            ["project_directory"] = Normalize(projectDirectory),
            ["job"] = jobName,
            ["output_dir"] = full,
        };
        File.WriteAllText(Path.Combine(full, FileName), marker.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    private static bool IsMarkedFor(string folder, string projectDirectory, string jobName)
    {
        string path = Path.Combine(folder, FileName);
        if (!File.Exists(path)) return false;
        try
        {
            if (JsonNode.Parse(File.ReadAllText(path)) is not JsonObject marker) return false;
            if (Text(marker, "created_by") != "lm-tune" || Text(marker, "job") != jobName
                || Text(marker, "project_directory") is not { } project || Text(marker, "output_dir") is not { } recorded)
                return false;
            if (SamePath(project, Normalize(projectDirectory)) && SamePath(recorded, folder)) return true;
            // A clone of the project elsewhere with its output folder restored from a CI cache: the same job, at the same
            // place inside its project (obj/lm/NAME), is still lm-tune's folder.
            string recordedInside = RelativePath(project, recorded), inside = RelativePath(Normalize(projectDirectory), folder);
            return !recordedInside.StartsWith("..", StringComparison.Ordinal) && !Path.IsPathRooted(recordedInside)
                   && SamePath(recordedInside, inside);
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static string? Text(JsonObject marker, string key) =>
        marker[key] is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;

    /// <summary>The absolute path without a trailing separator.</summary>
    private static string Normalize(string folder)
    {
        string full = Path.GetFullPath(folder);
        string root = Path.GetPathRoot(full) ?? "";
        return full.Length > root.Length ? full.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar) : full;
    }

    private static bool SamePath(string a, string b) =>
        string.Equals(a, b, OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal);

    /// <summary><c>Path.GetRelativePath</c>, which .NET Framework (the MSBuild task's net472 build) lacks.</summary>
    private static string RelativePath(string from, string to)
    {
#if NETFRAMEWORK
        string fromFull = Path.GetFullPath(from);
        if (!fromFull.EndsWith(Path.DirectorySeparatorChar.ToString(), StringComparison.Ordinal)) fromFull += Path.DirectorySeparatorChar;
        string relative = Uri.UnescapeDataString(new Uri(fromFull).MakeRelativeUri(new Uri(Path.GetFullPath(to))).ToString())
            .Replace('/', Path.DirectorySeparatorChar);
        return Path.IsPathRooted(relative) ? relative : relative.TrimEnd(Path.DirectorySeparatorChar) is { Length: > 0 } r ? r : ".";
#else
        return Path.GetRelativePath(from, to);
#endif
    }
}
