namespace Lm.Tasks.Jobs;

/// <summary>
/// Paths as MSBuild hands them to tasks: relative to the project folder, and with Windows separators on any OS
/// (the SDK's default <c>BaseIntermediateOutputPath</c> is <c>obj\</c>), which MSBuild's own tasks read as
/// separators everywhere.
/// </summary>
internal static class ProjectPath
{
    /// <summary>The absolute path of <paramref name="path"/>, relative paths taken from <paramref name="baseDirectory"/>.</summary>
    public static string Full(string path, string baseDirectory) =>
        Path.GetFullPath(Native(path), Native(baseDirectory));

    /// <summary><paramref name="path"/> with this OS's separators.</summary>
    public static string Native(string path) => OperatingSystem.IsWindows() ? path : path.Replace('\\', '/');
}
