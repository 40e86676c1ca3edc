namespace Lm.Runtime.Tests.Data;

/// <summary>Paths of the corpus samples bundled in the repository, and scratch folders for one test.</summary>
internal static class TestData
{
    private static readonly Lazy<string> Root = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Lm.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException("repository root (Lm.sln) not found above " + AppContext.BaseDirectory);
    });

    /// <summary>The repository's root folder (where Lm.sln is).</summary>
    public static string RepositoryRoot => Root.Value;

    /// <summary>A file under the repository's <c>data/</c> folder.</summary>
    public static string Corpus(string relative) => Path.Combine(Root.Value, "data", relative);
}

/// <summary>A temporary folder deleted when the test ends.</summary>
internal sealed class ScratchFolder : IDisposable
{
    public ScratchFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "lm-data-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name, string? text = null)
    {
        string path = System.IO.Path.Combine(Path, name);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        if (text is not null) System.IO.File.WriteAllText(path, text);
        return path;
    }

    public string Bytes(string name, byte[] bytes)
    {
        string path = File(name);
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
