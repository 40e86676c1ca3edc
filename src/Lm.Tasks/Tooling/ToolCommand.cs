using System.Runtime.InteropServices;

namespace Lm.Tasks.Tooling;

/// <summary>
/// How to start lm-tune: an executable (the apphost, a global tool's shim, or any script honouring the CLI
/// contract) or a <c>lm-tune.dll</c> run with <c>dotnet</c>; and the files whose change means a new tool version.
/// </summary>
internal sealed record ToolCommand(string Executable, IReadOnlyList<string> PrefixArguments, IReadOnlyList<string> VersionFiles)
{
    private const string ToolName = "lm-tune";

    /// <summary>
    /// Resolves <paramref name="toolPath"/> (LmToolPath) when given, else <c>lm-tune</c> on PATH, else the global tool
    /// folder (~/.dotnet/tools). Null when none exists.
    /// </summary>
    public static ToolCommand? Locate(string? toolPath, string projectDirectory)
    {
        if (!string.IsNullOrWhiteSpace(toolPath))
        {
            string full = Lm.Tasks.Jobs.ProjectPath.Full(toolPath, projectDirectory);
            return File.Exists(full) ? FromFile(full) : null;
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
