using System.Text.RegularExpressions;

namespace Lm.Runtime.Hub;

/// <summary>
/// The Hugging Face hub cache layout, shared with Python's <c>huggingface_hub</c> so that either side reuses the
/// other's downloads: <c>models--org--name/blobs/&lt;etag&gt;</c> holds file contents,
/// <c>snapshots/&lt;commit&gt;/&lt;file&gt;</c> are relative symlinks to blobs (copies where links cannot be made),
/// <c>refs/&lt;revision&gt;</c> holds the commit a branch or tag pointed to, and <c>.no_exist/&lt;commit&gt;/&lt;file&gt;</c>
/// records files the repository does not have.
/// </summary>
public sealed partial class HubCache
{
    public HubCache(string cacheDir, HubRepoKind kind = HubRepoKind.Model)
    {
        CacheDir = cacheDir;
        Kind = kind;
    }

    /// <summary>The cache root (<c>$HF_HOME/hub</c> by default).</summary>
    public string CacheDir { get; }

    /// <summary>Models or datasets: they live in <c>models--…</c> and <c>datasets--…</c> folders.</summary>
    public HubRepoKind Kind { get; }

    /// <summary><c>models--org--name</c> (or <c>datasets--org--name</c>) under the cache root.</summary>
    public string RepoFolder(string repoId) =>
        Path.Combine(CacheDir, (Kind == HubRepoKind.Dataset ? "datasets--" : "models--") + repoId.Replace("/", "--"));

    public string BlobPath(string repoId, string etag) => Path.Combine(RepoFolder(repoId), "blobs", etag);

    public string SnapshotFolder(string repoId, string commit) => Path.Combine(RepoFolder(repoId), "snapshots", commit);

    public string SnapshotFile(string repoId, string commit, string fileName) =>
        Path.Combine(SnapshotFolder(repoId, commit), fileName.Replace('/', Path.DirectorySeparatorChar));

    /// <summary>The commit a revision names: itself when it is a commit hash, else what <c>refs/&lt;revision&gt;</c> holds.</summary>
    public string? ResolveCommit(string repoId, string revision)
    {
        if (IsCommitHash(revision)) return revision;
        string refFile = Path.Combine(RepoFolder(repoId), "refs", revision);
        if (!File.Exists(refFile)) return null;
        string commit = File.ReadAllText(refFile).Trim();
        return commit.Length > 0 ? commit : null;
    }

    /// <summary>The cached snapshot folder of <paramref name="revision"/> when it holds a <c>config.json</c>, else null.</summary>
    public string? FindModelSnapshot(string repoId, string revision)
    {
        string? commit = ResolveCommit(repoId, revision);
        if (commit is null) return null;
        string folder = SnapshotFolder(repoId, commit);
        return File.Exists(Path.Combine(folder, "config.json")) ? folder : null;
    }

    /// <summary>Records the commit a branch or tag points to (write-then-rename).</summary>
    public void WriteRef(string repoId, string revision, string commit)
    {
        if (revision == commit) return;
        string refFile = Path.Combine(RepoFolder(repoId), "refs", revision);
        if (File.Exists(refFile) && File.ReadAllText(refFile).Trim() == commit) return;
        Directory.CreateDirectory(Path.GetDirectoryName(refFile)!);
        string temp = refFile + "." + Environment.ProcessId + ".tmp";
        File.WriteAllText(temp, commit);
        File.Move(temp, refFile, overwrite: true);
    }

    /// <summary>Points <c>snapshots/&lt;commit&gt;/&lt;file&gt;</c> at its blob: a relative symlink, or a copy where links fail.</summary>
    public string LinkIntoSnapshot(string repoId, string commit, string fileName, string etag)
    {
        string pointer = SnapshotFile(repoId, commit, fileName);
        string blob = BlobPath(repoId, etag);
        Directory.CreateDirectory(Path.GetDirectoryName(pointer)!);
        if (File.Exists(pointer) || IsDanglingLink(pointer)) File.Delete(pointer);
        try
        {
            File.CreateSymbolicLink(pointer, Path.GetRelativePath(Path.GetDirectoryName(pointer)!, blob));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            string temp = pointer + "." + Environment.ProcessId + ".tmp";
            File.Copy(blob, temp, overwrite: true);
            File.Move(temp, pointer, overwrite: true);
        }
        return pointer;
    }

    /// <summary>Remembers that the repository has no such file at that commit (as huggingface_hub does).</summary>
    public void MarkMissing(string repoId, string commit, string fileName)
    {
        string marker = Path.Combine(RepoFolder(repoId), ".no_exist", commit, fileName.Replace('/', Path.DirectorySeparatorChar));
        Directory.CreateDirectory(Path.GetDirectoryName(marker)!);
        if (!File.Exists(marker)) File.WriteAllBytes(marker, Array.Empty<byte>());
    }

    /// <summary>True when an earlier run learned the repository has no such file at that commit.</summary>
    public bool IsKnownMissing(string repoId, string commit, string fileName) =>
        File.Exists(Path.Combine(RepoFolder(repoId), ".no_exist", commit, fileName.Replace('/', Path.DirectorySeparatorChar)));

    /// <summary>A 40-digit lowercase hex git commit id.</summary>
    public static bool IsCommitHash(string revision) => CommitPattern().IsMatch(revision);

    /// <summary>
    /// Whether <paramref name="value"/> is a valid hub repository id (<c>name</c> or <c>org/name</c>, letters, digits,
    /// <c>-</c>, <c>_</c>, <c>.</c>; no <c>--</c> or <c>..</c>; at most 96 characters), as huggingface_hub validates it.
    /// </summary>
    public static bool IsRepoId(string value) =>
        value.Length is > 0 and <= 96 && RepoIdPattern().IsMatch(value) && !value.Contains("--", StringComparison.Ordinal)
        && !value.Contains("..", StringComparison.Ordinal) && !value.EndsWith(".git", StringComparison.Ordinal);

    private static bool IsDanglingLink(string path) => new FileInfo(path).LinkTarget is not null;

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex CommitPattern();

    [GeneratedRegex(@"^(?:[A-Za-z0-9_](?:[A-Za-z0-9_\-.]*[A-Za-z0-9_])?/)?[A-Za-z0-9_](?:[A-Za-z0-9_\-.]*[A-Za-z0-9_])?$")]
    private static partial Regex RepoIdPattern();
}

/// <summary>The two kinds of hub repositories lm-tune reads.</summary>
public enum HubRepoKind
{
    /// <summary><c>{endpoint}/{repo}/resolve/…</c>, cached as <c>models--org--name</c>.</summary>
    Model,

    /// <summary><c>{endpoint}/datasets/{repo}/resolve/…</c>, cached as <c>datasets--org--name</c>.</summary>
    Dataset,
}
