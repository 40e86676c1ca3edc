namespace Lm.Tasks.Tests;

/// <summary>The repository checkout the tests were built from (the folder holding Lm.sln).</summary>
internal static class RepoRoot
{
    public static string Path { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Lm.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException($"no Lm.sln above {AppContext.BaseDirectory}");
    }
}
