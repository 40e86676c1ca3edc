using System.Text.RegularExpressions;
using Lm.Runtime.Errors;
using Lm.Runtime.Files;

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
    public string RepoFolder(string repoId)
    {
        string name = (Kind == HubRepoKind.Dataset ? "datasets--" : "models--") + repoId.Replace("/", "--");
        return Path.Combine(CacheDir, SafePath.RequireName(name, $"the repository id '{SafePath.Printable(repoId)}' gives the cache folder"));
    }

    /// <summary><c>blobs/&lt;etag&gt;</c>; the etag must be a single safe name.</summary>
    public string BlobPath(string repoId, string etag) =>
        Path.Combine(BlobsFolder(repoId), SafePath.RequireName(etag, "the hub's ETag"));

    /// <summary><c>snapshots/&lt;commit&gt;</c>; the commit must be a 40-hex commit id (LM0521 otherwise).</summary>
    public string SnapshotFolder(string repoId, string commit) =>
        Path.Combine(RepoFolder(repoId), "snapshots", RequireCommit(commit, "the commit id"));

    /// <summary><c>snapshots/&lt;commit&gt;/&lt;file&gt;</c>; the file name must be a safe relative path (LM0520 otherwise).</summary>
    public string SnapshotFile(string repoId, string commit, string fileName) =>
        SafePath.Combine(SnapshotFolder(repoId, commit), fileName, "the file name");

    /// <summary>
    /// <c>refs/&lt;revision&gt;</c>: a revision may hold <c>/</c> (<c>refs/pr/1</c>), so the ref is a path below
    /// <c>refs/</c>, checked to stay there (LM0522 for a revision that is no branch, tag or commit name).
    /// </summary>
    public string RefFile(string repoId, string revision) =>
        SafePath.Combine(Path.Combine(RepoFolder(repoId), "refs"), RequireRevision(revision), "the revision");

    /// <summary>
    /// The commit a revision names: itself when it is a commit hash, else what <c>refs/&lt;revision&gt;</c> holds;
    /// null when the revision was never downloaded. A ref file that holds anything but a commit id is LM0521.
    /// </summary>
    public string? ResolveCommit(string repoId, string revision)
    {
        if (IsCommitHash(revision)) return revision;
        string refFile = RefFile(repoId, revision);
        if (!File.Exists(refFile)) return null;
        string commit = File.ReadAllText(refFile).Trim();
        if (commit.Length == 0) return null;
        if (!IsCommitHash(commit))
            throw new LmException(ErrorCodes.InvalidCommitId,
                $"{refFile} holds '{SafePath.Printable(Shorten(commit))}' where a 40-digit hex commit id belongs; " +
                "the cache entry is damaged: delete the file (or the repository's cache folder) and download again") { File = refFile };
        return commit;
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
        RequireCommit(commit, "the commit id");
        if (revision == commit) return;
        string refFile = RefFile(repoId, revision);
        if (File.Exists(refFile) && File.ReadAllText(refFile).Trim() == commit) return;
        RequireNoLinks(repoId, Path.GetDirectoryName(refFile)!);
        Directory.CreateDirectory(Path.GetDirectoryName(refFile)!);
        string temp = refFile + "." + Environment.ProcessId + ".tmp";
        File.WriteAllText(temp, commit);
        File.Move(temp, refFile, overwrite: true);
    }

    /// <summary>
    /// Points <c>snapshots/&lt;commit&gt;/&lt;file&gt;</c> at its blob: a relative symlink, or a copy where links fail.
    /// The link is made only inside the snapshot folder, only through real folders, and only to a blob in
    /// <c>blobs/</c>.
    /// </summary>
    public string LinkIntoSnapshot(string repoId, string commit, string fileName, string etag)
    {
        string pointer = SnapshotFile(repoId, commit, fileName);
        string blob = BlobPath(repoId, etag);
        string folder = Path.GetDirectoryName(pointer)!;
        string target = Path.GetRelativePath(folder, blob);
        // Belt and braces: what the link will resolve to is the blob, and the blob is in blobs/.
        string resolved = Path.GetFullPath(Path.Combine(folder, target));
        if (resolved != Path.GetFullPath(blob) || !SafePath.IsInside(BlobsFolder(repoId), resolved))
            throw new LmException(ErrorCodes.UnsafePathName,
                $"the link {pointer} would point to {resolved}, outside {BlobsFolder(repoId)}; nothing was linked");
        RequireNoLinks(repoId, folder);
        Directory.CreateDirectory(folder);
        if (File.Exists(pointer) || IsDanglingLink(pointer)) File.Delete(pointer);
        try
        {
            File.CreateSymbolicLink(pointer, target);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            string temp = pointer + "." + Environment.ProcessId + ".tmp";
            File.Copy(blob, temp, overwrite: true);
            File.Move(temp, pointer, overwrite: true);
        }
        return pointer;
    }

    /// <summary>Creates <c>blobs/</c> for a download, refusing a folder of the entry that is a symbolic link (LM0520).</summary>
    public void CreateBlobsFolder(string repoId)
    {
        RequireNoLinks(repoId, BlobsFolder(repoId));
        Directory.CreateDirectory(BlobsFolder(repoId));
    }

    /// <summary>Remembers that the repository has no such file at that commit (as huggingface_hub does).</summary>
    public void MarkMissing(string repoId, string commit, string fileName)
    {
        string marker = MissingMarker(repoId, commit, fileName);
        RequireNoLinks(repoId, Path.GetDirectoryName(marker)!);
        Directory.CreateDirectory(Path.GetDirectoryName(marker)!);
        if (!File.Exists(marker)) File.WriteAllBytes(marker, Array.Empty<byte>());
    }

    /// <summary>True when an earlier run learned the repository has no such file at that commit.</summary>
    public bool IsKnownMissing(string repoId, string commit, string fileName) => File.Exists(MissingMarker(repoId, commit, fileName));

    /// <summary>Returns <paramref name="commit"/> when it is a 40-digit lowercase hex commit id, else throws LM0521 naming it.</summary>
    /// <param name="commit">The value as received.</param>
    /// <param name="what">Where it came from, for the message (<c>"the hub's X-Repo-Commit header"</c>).</param>
    public static string RequireCommit(string? commit, string what) =>
        commit is not null && IsCommitHash(commit)
            ? commit
            : throw new LmException(ErrorCodes.InvalidCommitId,
                $"{what} '{SafePath.Printable(Shorten(commit))}' is not a commit id (40 lowercase hex digits); it is not used as a folder name");

    /// <summary>
    /// Returns <paramref name="revision"/> when it can name a branch, tag or commit (<c>main</c>, <c>v1.0</c>,
    /// <c>refs/pr/1</c>, a commit id), else throws LM0522: git's ref name rules, which also keep it a safe
    /// relative path (no <c>..</c>, no segment starting with <c>.</c>, no control characters, spaces or
    /// <c>~^:?*[\</c>, no <c>@{</c>, no <c>.lock</c> ending).
    /// </summary>
    public static string RequireRevision(string? revision)
    {
        string? problem = revision switch
        {
            null or "" => "it is empty",
            _ when !SafePath.IsRelativePath(revision) => "it is not a relative name",
            _ when revision.Contains("..", StringComparison.Ordinal) => "it holds '..'",
            _ when revision.Split('/').Any(s => s.StartsWith('.') || s.EndsWith(".lock", StringComparison.Ordinal)) =>
                "a part starts with '.' or ends with '.lock'",
            _ when revision.IndexOfAny([' ', '~', '^', ':', '?', '*', '[', '\\']) >= 0 || revision.Contains("@{", StringComparison.Ordinal) =>
                "it holds a character git does not allow in a branch or tag name",
            _ when revision.EndsWith('.') || revision == "@" => "git does not allow it as a branch or tag name",
            _ => null,
        };
        if (problem is null) return revision!;
        throw new LmException(ErrorCodes.InvalidRevision,
            $"revision '{SafePath.Printable(Shorten(revision))}' is not a branch, tag or commit name ({problem}); " +
            "use a name such as main, v1.0 or refs/pr/1, or a 40-digit commit id");
    }

    /// <summary>A 40-digit lowercase hex git commit id.</summary>
    public static bool IsCommitHash(string revision) => CommitPattern().IsMatch(revision);

    /// <summary>
    /// Whether <paramref name="value"/> is a valid hub repository id (<c>name</c> or <c>org/name</c>, letters, digits,
    /// <c>-</c>, <c>_</c>, <c>.</c>; no <c>--</c> or <c>..</c>; at most 96 characters), as huggingface_hub validates it.
    /// </summary>
    public static bool IsRepoId(string value) =>
        value.Length is > 0 and <= 96 && RepoIdPattern().IsMatch(value) && !value.Contains("--", StringComparison.Ordinal)
        && !value.Contains("..", StringComparison.Ordinal) && !value.EndsWith(".git", StringComparison.Ordinal);

    private string BlobsFolder(string repoId) => Path.Combine(RepoFolder(repoId), "blobs");

    private string MissingMarker(string repoId, string commit, string fileName) =>
        SafePath.Combine(Path.Combine(RepoFolder(repoId), ".no_exist", RequireCommit(commit, "the commit id")), fileName, "the file name");

    /// <summary>
    /// Refuses to write through a folder of the repository's cache entry that is a symbolic link: such a link was not
    /// made by a hub client and could lead anywhere. The entry itself, and folders above it, may be links (a cache moved
    /// to another disk).
    /// </summary>
    private void RequireNoLinks(string repoId, string folder)
    {
        string repoFolder = RepoFolder(repoId);
        for (string? current = folder; current is not null && SafePath.IsInside(repoFolder, current); current = Path.GetDirectoryName(current))
        {
            if (new DirectoryInfo(current).LinkTarget is not null)
                throw new LmException(ErrorCodes.UnsafePathName,
                    $"{current} is a symbolic link inside the hub cache entry {repoFolder}; lm-tune does not write through it. Delete that entry and download again");
        }
    }

    /// <summary>A hostile value may be megabytes long; a message shows its start.</summary>
    private static string? Shorten(string? value) => value is { Length: > 200 } ? value[..200] + "…" : value;

    private static bool IsDanglingLink(string path) => new FileInfo(path).LinkTarget is not null;

    // \z, not $: "$" also matches before a final newline, which would let "<sha>\n" through as a folder name.
    [GeneratedRegex(@"\A[0-9a-f]{40}\z")]
    private static partial Regex CommitPattern();

    [GeneratedRegex(@"\A(?:[A-Za-z0-9_](?:[A-Za-z0-9_\-.]*[A-Za-z0-9_])?/)?[A-Za-z0-9_](?:[A-Za-z0-9_\-.]*[A-Za-z0-9_])?\z")]
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
