using System.Runtime.CompilerServices;

namespace Lm.Generators.Tests;

/// <summary>The repository checkout the tests were compiled from (docs, the sample project).</summary>
public static class Repository
{
    public static string Root { get; } = Find();

    private static string Find([CallerFilePath] string path = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, "..", ".."));
}
