using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Lm.Runtime.Tests.Hub;

/// <summary>
/// A Hugging Face hub on 127.0.0.1 for tests: <c>HEAD/GET /{repo}/resolve/{revision}/{file}</c> answer with the
/// hub's headers (<c>X-Repo-Commit</c>, <c>ETag</c> = git blob sha1 for regular files; a 302 to a CDN address on
/// <c>localhost</c> with <c>X-Linked-Etag</c> = sha256 and <c>X-Linked-Size</c> for LFS files), missing files get
/// 404 + <c>X-Error-Code: EntryNotFound</c>, unknown repositories 401 + <c>RepoNotFound</c>. The CDN honours
/// <c>Range</c>. Dataset repositories are registered as <c>datasets/org/name</c> (their resolve path), and the tree API
/// lists a folder's files. Faults can be injected: cut a transfer after N bytes once, or serve bytes that do not match the ETag.
/// A hostile hub can be played too: announce any <c>X-Repo-Commit</c>, or answer the tree API with any listing.
/// </summary>
public sealed class LoopbackHub : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Dictionary<string, Repo> _repos = new();
    private readonly ConcurrentDictionary<string, int> _cutAfter = new();
    private readonly ConcurrentDictionary<string, byte[]> _corrupt = new();
    private readonly ConcurrentDictionary<string, string> _commitHeaders = new();
    private readonly ConcurrentDictionary<string, string> _listings = new();
    private readonly Task _loop;

    public LoopbackHub()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        Port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Prefixes.Add($"http://localhost:{Port}/");
        _listener.Start();
        _loop = Task.Run(ServeAsync);
    }

    public int Port { get; }

    /// <summary>The value for <c>HF_ENDPOINT</c>.</summary>
    public string Endpoint => $"http://127.0.0.1:{Port}";

    /// <summary>Every request served, in order.</summary>
    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    public sealed record RecordedRequest(string Method, string Host, string Path, string? Range, string? Authorization, long BytesSent);

    private sealed record HubFile(byte[] Content, bool Lfs, string Etag);

    private sealed record Repo(string Commit, Dictionary<string, HubFile> Files);

    /// <summary>Adds (or replaces) a file; LFS files are served through the CDN redirect, as the hub does for weights.</summary>
    public void AddFile(string repoId, string fileName, byte[] content, bool lfs = false)
    {
        lock (_repos)
        {
            if (!_repos.TryGetValue(repoId, out var repo))
                _repos[repoId] = repo = new Repo(CommitFor(repoId), new Dictionary<string, HubFile>());
            repo.Files[fileName] = new HubFile(content, lfs, lfs ? Sha256(content) : GitBlobSha1(content));
        }
    }

    public void AddFile(string repoId, string fileName, string content) => AddFile(repoId, fileName, Encoding.UTF8.GetBytes(content));

    /// <summary>The commit every revision of <paramref name="repoId"/> resolves to.</summary>
    public static string CommitFor(string repoId) => Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(repoId)));

    public static string Sha256(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    public static string GitBlobSha1(byte[] content) =>
        Convert.ToHexStringLower(SHA1.HashData(Encoding.ASCII.GetBytes($"blob {content.Length}\0").Concat(content).ToArray()));

    /// <summary>The next transfer of <paramref name="fileName"/> stops after <paramref name="bytes"/> bytes (the connection is dropped).</summary>
    public void CutNextTransfer(string fileName, int bytes) => _cutAfter[fileName] = bytes;

    /// <summary>Transfers of <paramref name="fileName"/> send <paramref name="wrongBytes"/> while the headers announce the real file.</summary>
    public void ServeCorrupted(string fileName, byte[] wrongBytes) => _corrupt[fileName] = wrongBytes;

    /// <summary>Every resolve answer of <paramref name="repoId"/> announces <paramref name="commitHeader"/> as its <c>X-Repo-Commit</c>.</summary>
    public void AnnounceCommit(string repoId, string commitHeader) => _commitHeaders[repoId] = commitHeader;

    /// <summary>The tree API of <paramref name="repoKey"/> (<c>datasets/org/name</c>) answers <paramref name="json"/>, whatever folder is asked.</summary>
    public void ServeListing(string repoKey, string json) => _listings[repoKey] = json;

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            try
            {
                Handle(context);
            }
            catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
            {
                // The client went away; nothing to answer.
            }
        }
    }

    private void Handle(HttpListenerContext context)
    {
        var request = context.Request;
        var response = context.Response;
        // The raw path keeps a revision's escaped '/' (refs%2Fpr%2F1) apart from the path's own separators.
        string rawPath = request.RawUrl!.Split('?')[0];
        string path = Uri.UnescapeDataString(rawPath);
        long sent = 0;
        try
        {
            if (path.StartsWith("/cdn/", StringComparison.Ordinal))
            {
                var file = FindBlob(path["/cdn/".Length..], out string fileName);
                if (file is null) { response.StatusCode = 404; return; }
                sent = SendBytes(request, response, fileName, file);
                return;
            }
            if (path.StartsWith("/api/", StringComparison.Ordinal))
            {
                sent = SendTree(response, path["/api/".Length..]);
                return;
            }
            int resolve = rawPath.IndexOf("/resolve/", StringComparison.Ordinal);
            if (resolve < 0) { response.StatusCode = 404; return; }
            string repoId = Uri.UnescapeDataString(rawPath[1..resolve]);
            string[] rest = rawPath[(resolve + "/resolve/".Length)..].Split('/', 2).Select(Uri.UnescapeDataString).ToArray();
            Repo? repo;
            lock (_repos) _repos.TryGetValue(repoId, out repo);
            if (repo is null || rest.Length < 2)
            {
                response.StatusCode = 401;
                response.Headers["X-Error-Code"] = "RepoNotFound";
                return;
            }
            string fileNameInRepo = rest[1];
            response.Headers["X-Repo-Commit"] = _commitHeaders.TryGetValue(repoId, out string? announced) ? announced : repo.Commit;
            if (!repo.Files.TryGetValue(fileNameInRepo, out var hubFile))
            {
                response.StatusCode = 404;
                response.Headers["X-Error-Code"] = "EntryNotFound";
                return;
            }
            if (hubFile.Lfs)
            {
                response.StatusCode = 302;
                response.Headers["X-Linked-Etag"] = $"\"{hubFile.Etag}\"";
                response.Headers["X-Linked-Size"] = hubFile.Content.Length.ToString();
                response.Headers["Location"] = $"http://localhost:{Port}/cdn/{hubFile.Etag}";
                return;
            }
            response.Headers["ETag"] = $"\"{hubFile.Etag}\"";
            sent = SendBytes(request, response, fileNameInRepo, hubFile);
        }
        finally
        {
            Requests.Enqueue(new RecordedRequest(request.HttpMethod, request.Url!.Host, path, request.Headers["Range"],
                request.Headers["Authorization"], sent));
            try { response.Close(); } catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { }
        }
    }

    /// <summary>The hub's tree API, <c>/api/{models|datasets}/{repo}/tree/{revision}/{folder}</c>: the files under a folder.</summary>
    private long SendTree(HttpListenerResponse response, string rest)
    {
        int tree = rest.IndexOf("/tree/", StringComparison.Ordinal);
        string repoKey = rest.StartsWith("models/", StringComparison.Ordinal) ? rest["models/".Length..tree] : rest[..tree];
        string[] revisionAndFolder = rest[(tree + "/tree/".Length)..].Split('/', 2);
        string folder = revisionAndFolder.Length > 1 ? revisionAndFolder[1].TrimEnd('/') + "/" : "";
        if (_listings.TryGetValue(repoKey, out string? listing))
        {
            byte[] answer = Encoding.UTF8.GetBytes(listing);
            response.ContentType = "application/json";
            response.ContentLength64 = answer.Length;
            response.OutputStream.Write(answer);
            return answer.Length;
        }
        Repo? repo;
        lock (_repos) _repos.TryGetValue(repoKey, out repo);
        if (repo is null)
        {
            response.StatusCode = 401;
            response.Headers["X-Error-Code"] = "RepoNotFound";
            return 0;
        }
        var entries = repo.Files.Where(f => f.Key.StartsWith(folder, StringComparison.Ordinal)).ToList();
        if (entries.Count == 0)
        {
            response.StatusCode = 404;
            response.Headers["X-Error-Code"] = "EntryNotFound";
            return 0;
        }
        string json = "[" + string.Join(",", entries.Select(f =>
            $"{{\"type\":\"file\",\"path\":\"{f.Key}\",\"size\":{f.Value.Content.Length},\"oid\":\"{f.Value.Etag}\"}}")) + "]";
        byte[] body = Encoding.UTF8.GetBytes(json);
        response.ContentType = "application/json";
        response.ContentLength64 = body.Length;
        response.OutputStream.Write(body);
        return body.Length;
    }

    private long SendBytes(HttpListenerRequest request, HttpListenerResponse response, string fileName, HubFile file)
    {
        byte[] content = _corrupt.TryGetValue(fileName, out var wrong) ? wrong : file.Content;
        long start = 0;
        if (request.Headers["Range"] is { } range && range.StartsWith("bytes=", StringComparison.Ordinal))
        {
            start = long.Parse(range["bytes=".Length..].TrimEnd('-').Split('-')[0]);
            if (start >= content.Length)
            {
                response.StatusCode = 416;
                return 0;
            }
            response.StatusCode = 206;
            response.Headers["Content-Range"] = $"bytes {start}-{content.Length - 1}/{content.Length}";
        }
        response.ContentLength64 = content.Length - start;
        if (request.HttpMethod == "HEAD") return 0;
        int count = (int)(content.Length - start);
        if (_cutAfter.TryRemove(fileName, out int cut) && cut < count)
        {
            response.OutputStream.Write(content, (int)start, cut);
            response.OutputStream.Flush();
            response.Abort();
            return cut;
        }
        response.OutputStream.Write(content, (int)start, count);
        return count;
    }

    private HubFile? FindBlob(string etag, out string fileName)
    {
        lock (_repos)
        {
            foreach (var repo in _repos.Values)
            foreach (var (name, file) in repo.Files)
            {
                if (file.Etag != etag) continue;
                fileName = name;
                return file;
            }
        }
        fileName = "";
        return null;
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        try { _loop.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
    }
}
