namespace Lm.Runtime.Tests.Tokenization;

/// <summary>Temporary folders and the repository's bundled corpus, for tokenizer tests.</summary>
internal static class TokenizerTestFiles
{
    /// <summary>The lines of a bundled corpus file, each with its "\n", as run_clm.py's keep_linebreaks reads them.</summary>
    public static IReadOnlyList<string> CorpusLines(string relativePath, int maxLines = int.MaxValue)
    {
        string text = File.ReadAllText(Path.Combine(RepositoryRoot(), "data", relativePath));
        string[] pieces = text.Split('\n');
        return pieces.Take(pieces.Length - 1).Select(line => line + "\n").Take(maxLines).ToArray();
    }

    /// <summary>A new empty folder under the system temp folder; delete it with <see cref="TemporaryFolder.Dispose"/>.</summary>
    public static TemporaryFolder NewFolder() => new();

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Lm.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("The tests run outside the repository: Lm.sln not found above " + AppContext.BaseDirectory);
    }
}

internal sealed class TemporaryFolder : IDisposable
{
    public TemporaryFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "lm-tokenizer-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Write(string name, string content) => System.IO.File.WriteAllText(File(name), content);

    public void Dispose()
    {
        if (Directory.Exists(Path))
        {
            Directory.Delete(Path, recursive: true);
        }
    }
}
