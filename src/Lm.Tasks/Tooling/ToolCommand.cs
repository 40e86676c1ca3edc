using System.Runtime.InteropServices;
using System.Text.Json;

namespace Lm.Tasks.Tooling;

/// <summary>
/// How to start lm-tune: an executable (the apphost, a global tool's shim, or any script honouring the CLI
/// contract) or a <c>lm-tune.dll</c> run with <c>dotnet</c>; and the files whose change means a new tool version.
/// </summary>
internal sealed record ToolCommand(string Executable, IReadOnlyList<string> PrefixArguments, IReadOnlyList<string> VersionFiles)
{
    private const string ToolName = "lm-tune";

    /// <summary>
    /// Resolves <paramref name="toolPath"/> (LmToolPath) when given, else the local tool manifest's <c>lm-tune</c>
    /// (run as <c>dotnet tool run lm-tune</c>, the version the repository pins), else <c>lm-tune</c> on PATH, else the
    /// global tool folder (~/.dotnet/tools). Null when none exists.
    /// </summary>
    public static ToolCommand? Locate(string? toolPath, string projectDirectory)
    {
        if (!string.IsNullOrWhiteSpace(toolPath))
        {
            string full = Lm.Tasks.Jobs.ProjectPath.Full(toolPath, projectDirectory);
            return File.Exists(full) ? FromFile(full) : null;
        }
        if (FindLocalManifest(projectDirectory) is { } manifest)
        {
            // The manifest is the version file: pinning another lm-tune version edits it. The CLI finds the manifest
            // from the working directory, which is the project's folder when the task starts the tool.
            return new ToolCommand(DotnetHost(), ["tool", "run", ToolName, "--"], [manifest]);
        }
        string executable = RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? ToolName + ".exe" : ToolName;
        var folders = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Append(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".dotnet", "tools"));
        foreach (string folder in folders)
        {
            string candidate = Path.Combine(folder, executable);
            if (File.Exists(candidate)) return FromFile(Path.GetFullPath(candidate));
        }
        return null;
    }

    /// <summary>
    /// The tool's version for the job's cache key: <c>lm-tune.dll</c>'s product version (its informational version,
    /// which <c>lm-tune</c> itself reports), so a reinstalled tool of the same version on a fresh CI agent keeps the
    /// key; for a stand-in without that assembly, a hash of its files' contents.
    /// </summary>
    public string Version()
    {
        string? dll = VersionFiles.FirstOrDefault(f => Path.GetFileName(f).Equals(ToolName + ".dll", StringComparison.OrdinalIgnoreCase));
        if (dll is not null && System.Diagnostics.FileVersionInfo.GetVersionInfo(dll).ProductVersion is { Length: > 0 } product)
            return product;
        var hashes = new Lm.Runtime.Jobs.ContentHashes(null);
        return "files " + string.Join(",", VersionFiles.Select(f => Path.GetFileName(f) + ":" + hashes.Sha256(f)));
    }

    /// <summary>
    /// The local tool manifest that lists lm-tune, searched as the dotnet CLI does: <c>.config/dotnet-tools.json</c>,
    /// then <c>dotnet-tools.json</c>, in the project's folder and then each parent, stopping after a manifest marked
    /// <c>isRoot</c>. Null when none lists it.
    /// </summary>
    public static string? FindLocalManifest(string projectDirectory)
    {
        for (var folder = new DirectoryInfo(projectDirectory); folder is not null; folder = folder.Parent)
        {
            foreach (string candidate in new[] { Path.Combine(folder.FullName, ".config", "dotnet-tools.json"), Path.Combine(folder.FullName, "dotnet-tools.json") })
            {
                if (!File.Exists(candidate)) continue;
                var (listsTool, isRoot) = ReadManifest(candidate);
                if (listsTool) return candidate;
                if (isRoot) return null;
            }
        }
        return null;
    }

    private static (bool ListsTool, bool IsRoot) ReadManifest(string path)
    {
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            var root = document.RootElement;
            bool isRoot = root.TryGetProperty("isRoot", out var flag) && flag.ValueKind == JsonValueKind.True;
            bool listsTool = root.TryGetProperty("tools", out var tools) && tools.ValueKind == JsonValueKind.Object
                && tools.EnumerateObject().Any(t => string.Equals(t.Name, ToolName, StringComparison.OrdinalIgnoreCase));
            return (listsTool, isRoot);
        }
        catch (JsonException)
        {
            // A broken manifest is the CLI's to report (dotnet tool run says what is wrong); the search goes on.
            return (false, false);
        }
    }

    private static ToolCommand FromFile(string path)
    {
        string folder = Path.GetDirectoryName(path)!;
        // The engine lives beside the entry point; a rebuilt engine is a new tool version even when the apphost is unchanged.
        var versionFiles = new[] { path, Path.Combine(folder, ToolName + ".dll"), Path.Combine(folder, "Lm.Runtime.dll") }
            .Where(File.Exists)
            .Distinct(StringComparer.Ordinal)
            .ToList();
        if (path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
            return new ToolCommand(DotnetHost(), [path], versionFiles);
        return new ToolCommand(path, [], versionFiles);
    }

    private static string DotnetHost()
    {
        // The SDK sets DOTNET_HOST_PATH for tasks: the dotnet that runs this build.
        string? host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        return string.IsNullOrEmpty(host) ? "dotnet" : host;
    }
}
