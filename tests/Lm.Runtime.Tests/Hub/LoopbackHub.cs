using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Lm.Runtime.Tests.Hub;

/// <summary>
/// A Hugging Face hub on 127.0.0.1 for tests: <c>HEAD/GET /{repo}/resolve/{revision}/{file}</c> answer with the
/// hub's headers (<c>X-Repo-Commit</c>, <c>ETag</c> = git blob sha1 for regular files; a 302 to a CDN address on
/// <c>localhost</c> with <c>X-Linked-Etag</c> = sha256 and <c>X-Linked-Size</c> for LFS files), missing files get
/// 404 + <c>X-Error-Code: EntryNotFound</c>, unknown repositories 401 + <c>RepoNotFound</c>. The CDN honours
/// <c>Range</c>. Dataset repositories are registered as <c>datasets/org/name</c> (their resolve path), and the tree API
/// lists a folder's files. Faults can be injected: cut a transfer after N bytes once, or serve bytes that do not match the ETag.
/// A hostile hub can be played too: announce any <c>X-Repo-Commit</c>, or answer the tree API with any listing.
/// It takes pushes as the hub does (<see cref="AddUser"/> registers a write token): <c>POST /api/repos/create</c>
/// (409 with the address when the repository exists), the preupload check (LFS for weights, event files and files of
/// 10 MiB or more; the id of a file it already has), the LFS batch API (an upload address on <c>localhost</c>, another
/// host than the endpoint's <c>127.0.0.1</c>, with a ticket header, and a verify address on the endpoint), and the
/// NDJSON commit API; each commit makes a new commit id, and what was committed is then served for download.
/// <see cref="FailNext"/> makes the next matching request fail with a status and the hub's error message.
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
    private readonly Dictionary<string, (string User, string[] Orgs)> _users = new();
    private readonly ConcurrentDictionary<string, byte[]> _lfsStore = new();
    private readonly ConcurrentDictionary<string, (int Status, string Message, int Times)> _failures = new();
    private readonly HashSet<string> _privateRepos = new();
    private int _commitCount;

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

    /// <summary>A commit the hub took: its NDJSON lines as received, and the commit id it made.</summary>
    public sealed record RecordedCommit(string RepoId, string Revision, string Summary, IReadOnlyList<string> Lines, string Oid);

    /// <summary>Every commit taken, in order.</summary>
    public ConcurrentQueue<RecordedCommit> Commits { get; } = new();

    /// <summary>Lets <paramref name="token"/> write as <paramref name="user"/> (to its own namespace and to <paramref name="orgs"/>).</summary>
    public void AddUser(string token, string user, params string[] orgs)
    {
        lock (_users) _users[token] = (user, orgs);
    }

    /// <summary>The next <paramref name="times"/> requests whose path contains <paramref name="pathPart"/> are answered <paramref name="status"/> with the hub's error message.</summary>
    public void FailNext(string pathPart, int status, string message, int times = 1) => _failures[pathPart] = (status, message, times);

    /// <summary>Whether a repository was created private.</summary>
    public bool IsPrivate(string repoId)
    {
        lock (_privateRepos) return _privateRepos.Contains(repoId);
    }

    /// <summary>The files of <paramref name="repoId"/> at its current commit, by path: content and whether it is an LFS file.</summary>
    public IReadOnlyDictionary<string, (byte[] Content, bool Lfs)> FilesOf(string repoId)
    {
        lock (_repos)
            return _repos.TryGetValue(repoId, out var repo)
                ? repo.Files.ToDictionary(f => f.Key, f => (f.Value.Content, f.Value.Lfs), StringComparer.Ordinal)
                : new Dictionary<string, (byte[], bool)>();
    }

    /// <summary>The commit <paramref name="repoId"/>'s revisions resolve to now.</summary>
    public string CurrentCommit(string repoId)
    {
        lock (_repos) return _repos[repoId].Commit;
    }

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
        // Writes are recorded before they are answered: a client may act on the answer before this handler returns.
        bool recorded = request.HttpMethod is "POST" or "PUT";
        if (recorded) Requests.Enqueue(new RecordedRequest(request.HttpMethod, request.Url!.Host, path, null, request.Headers["Authorization"], 0));
        try
        {
            if (path.StartsWith("/cdn/", StringComparison.Ordinal))
            {
                var file = FindBlob(path["/cdn/".Length..], out string fileName);
                if (file is null) { response.StatusCode = 404; return; }
                sent = SendBytes(request, response, fileName, file);
                return;
            }
            if (_failures.Keys.FirstOrDefault(k => path.Contains(k, StringComparison.Ordinal)) is { } failing && _failures.TryRemove(failing, out var failure))
            {
                if (failure.Times > 1) _failures[failing] = failure with { Times = failure.Times - 1 };
                // Read the request body before answering, as a real hub does: closing the connection with the body
                // unread resets it, and a client still sending then sees a dropped connection instead of this status
                // (a repeat run of the suite failed PushToHubTests so, once in ten).
                if (request.HasEntityBody) request.InputStream.CopyTo(Stream.Null);
                sent = SendError(response, failure.Status, failure.Message);
                return;
            }
            if (request.HttpMethod is "POST" or "PUT" && TryHandleWrite(request, response, path, out sent)) return;
            // repo_info (GET /api/models/{org}/{name}): what create_repo(exist_ok=True) asks after a 403.
            if (request.HttpMethod == "GET" && path.StartsWith("/api/models/", StringComparison.Ordinal) && path.Count(c => c == '/') == 4)
            {
                string id = path["/api/models/".Length..];
                sent = Find(id) is null ? SendError(response, 404, "Repository not found", "RepoNotFound") : SendJson(response, 200, new JsonObject { ["id"] = id });
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
            if (!recorded)
                Requests.Enqueue(new RecordedRequest(request.HttpMethod, request.Url!.Host, path, request.Headers["Range"],
                    request.Headers["Authorization"], sent));
            try { response.Close(); } catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { }
        }
    }

    /// <summary>The write side of the hub: repository creation, preupload, LFS batch, upload and verify, commit.</summary>
    private bool TryHandleWrite(HttpListenerRequest request, HttpListenerResponse response, string path, out long sent)
    {
        sent = 0;
        byte[] body;
        using (var buffer = new MemoryStream())
        {
            request.InputStream.CopyTo(buffer);
            body = buffer.ToArray();
        }
        if (path.StartsWith("/lfs-upload/", StringComparison.Ordinal))
        {
            // Storage: no token expected, but the ticket the batch answer gave.
            string oid = path["/lfs-upload/".Length..];
            if (request.Headers["X-Upload-Ticket"] != oid[..8]) { sent = SendError(response, 403, "missing upload ticket"); return true; }
            if (Sha256(body) != oid) { sent = SendError(response, 400, "content does not match the oid"); return true; }
            _lfsStore[oid] = body;
            return true;
        }
        string? user = UserOf(request);
        if (user is null) { sent = SendError(response, 401, "Invalid credentials in Authorization header"); return true; }
        var json = path.Contains("/commit/", StringComparison.Ordinal) ? null : TryParse(body);
        if (path == "/api/repos/create")
        {
            string name = json?["name"]?.GetValue<string>() ?? "";
            string space = json?["organization"]?.GetValue<string>() ?? user;
            if (!MayWrite(request, space)) { sent = SendError(response, 403, $"You don't have the rights to create a model under the namespace \"{space}\""); return true; }
            string repoId = space + "/" + name;
            string url = $"{Endpoint}/{repoId}";
            lock (_repos)
            {
                if (_repos.ContainsKey(repoId))
                {
                    sent = SendJson(response, 409, new JsonObject { ["error"] = "You already created this model repo", ["url"] = url });
                    return true;
                }
                _repos[repoId] = new Repo(CommitFor(repoId), new Dictionary<string, HubFile>());
            }
            if (json?["private"]?.GetValue<bool>() == true) lock (_privateRepos) _privateRepos.Add(repoId);
            sent = SendJson(response, 200, new JsonObject { ["url"] = url, ["name"] = repoId });
            return true;
        }
        if (path.StartsWith("/lfs-verify/", StringComparison.Ordinal))
        {
            string oid = path["/lfs-verify/".Length..];
            bool ok = _lfsStore.TryGetValue(oid, out var stored) && json?["size"]?.GetValue<long>() == stored.Length;
            sent = ok ? SendJson(response, 200, new JsonObject()) : SendError(response, 404, "object not found");
            return true;
        }
        int batch = path.IndexOf(".git/info/lfs/objects/batch", StringComparison.Ordinal);
        if (batch > 0)
        {
            string repoId = path[1..batch];
            if (Find(repoId) is null) { sent = SendError(response, 404, "Repository not found"); return true; }
            if (!MayWrite(request, repoId.Split('/')[0])) { sent = SendError(response, 403, "You don't have the rights to write to this repository"); return true; }
            var objects = new JsonArray();
            foreach (var item in json!["objects"]!.AsArray().OfType<JsonObject>())
            {
                string oid = item["oid"]!.GetValue<string>();
                var entry = new JsonObject { ["oid"] = oid, ["size"] = item["size"]!.GetValue<long>() };
                if (!_lfsStore.ContainsKey(oid) && FindBlob(oid, out _) is null)
                {
                    entry["actions"] = new JsonObject
                    {
                        ["upload"] = new JsonObject { ["href"] = $"http://localhost:{Port}/lfs-upload/{oid}", ["header"] = new JsonObject { ["X-Upload-Ticket"] = oid[..8] } },
                        ["verify"] = new JsonObject { ["href"] = $"{Endpoint}/lfs-verify/{oid}" },
                    };
                }
                objects.Add(entry);
            }
            sent = SendJson(response, 200, new JsonObject { ["transfer"] = "basic", ["objects"] = objects });
            return true;
        }
        if (path.StartsWith("/api/models/", StringComparison.Ordinal))
        {
            string rest = path["/api/models/".Length..];
            int action = rest.IndexOf("/preupload/", StringComparison.Ordinal) is var p and >= 0 ? p : rest.IndexOf("/commit/", StringComparison.Ordinal);
            if (action < 0) return false;
            string repoId = rest[..action];
            string revision = rest[(rest.IndexOf('/', action + 1) + 1)..];
            var repo = Find(repoId);
            if (repo is null) { sent = SendError(response, 404, "Repository not found", "RepoNotFound"); return true; }
            if (revision != "main") { sent = SendError(response, 404, $"Invalid rev id: {revision}", "RevisionNotFound"); return true; }
            if (!MayWrite(request, repoId.Split('/')[0])) { sent = SendError(response, 403, "You don't have the rights to write to this repository"); return true; }
            sent = rest[action..].StartsWith("/preupload/", StringComparison.Ordinal)
                ? Preupload(response, repo, json!)
                : Commit(response, repoId, revision, Encoding.UTF8.GetString(body));
            return true;
        }
        return false;
    }

    /// <summary>The hub's choice per file: LFS for weights, event files and big files; the id of what it has at that path.</summary>
    private long Preupload(HttpListenerResponse response, Repo repo, JsonObject json)
    {
        var files = new JsonArray();
        foreach (var file in json["files"]!.AsArray().OfType<JsonObject>())
        {
            string path = file["path"]!.GetValue<string>();
            long size = file["size"]!.GetValue<long>();
            bool lfs = size >= 10 << 20 || path.Contains("tfevents", StringComparison.Ordinal)
                || new[] { ".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".onnx", ".zip", ".gz" }.Any(e => path.EndsWith(e, StringComparison.Ordinal));
            var entry = new JsonObject { ["path"] = path, ["uploadMode"] = lfs ? "lfs" : "regular", ["shouldIgnore"] = false };
            if (repo.Files.TryGetValue(path, out var existing)) entry["oid"] = existing.Etag;
            files.Add(entry);
        }
        return SendJson(response, 200, new JsonObject { ["files"] = files, ["commitOid"] = repo.Commit });
    }

    private long Commit(HttpListenerResponse response, string repoId, string revision, string ndjson)
    {
        var lines = ndjson.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string? summary = null;
        var added = new Dictionary<string, HubFile>(StringComparer.Ordinal);
        foreach (string line in lines)
        {
            var item = JsonNode.Parse(line)!.AsObject();
            var value = item["value"]!.AsObject();
            switch (item["key"]!.GetValue<string>())
            {
                case "header":
                    summary = value["summary"]!.GetValue<string>();
                    break;
                case "file":
                    byte[] content = Convert.FromBase64String(value["content"]!.GetValue<string>());
                    added[value["path"]!.GetValue<string>()] = new HubFile(content, false, GitBlobSha1(content));
                    break;
                case "lfsFile":
                    string oid = value["oid"]!.GetValue<string>();
                    byte[]? stored = _lfsStore.TryGetValue(oid, out var bytes) ? bytes : FindBlob(oid, out _)?.Content;
                    if (stored is null || stored.LongLength != value["size"]!.GetValue<long>())
                        return SendError(response, 422, $"LFS pointer {oid} points to a file that was not uploaded");
                    added[value["path"]!.GetValue<string>()] = new HubFile(stored, true, oid);
                    break;
                default:
                    return SendError(response, 400, $"unknown commit line key in: {line}");
            }
        }
        if (summary is null) return SendError(response, 400, "the commit has no header line");
        string commit;
        lock (_repos)
        {
            var files = new Dictionary<string, HubFile>(_repos[repoId].Files, StringComparer.Ordinal);
            foreach (var (path, file) in added) files[path] = file;
            commit = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes($"{repoId}:{++_commitCount}:{summary}")));
            _repos[repoId] = new Repo(commit, files);
        }
        Commits.Enqueue(new RecordedCommit(repoId, revision, summary, lines, commit));
        return SendJson(response, 200, new JsonObject { ["commitUrl"] = $"{Endpoint}/{repoId}/commit/{commit}", ["commitOid"] = commit });
    }

    private Repo? Find(string repoId)
    {
        lock (_repos) return _repos.TryGetValue(repoId, out var repo) ? repo : null;
    }

    private string? UserOf(HttpListenerRequest request)
    {
        string? authorization = request.Headers["Authorization"];
        if (authorization is null || !authorization.StartsWith("Bearer ", StringComparison.Ordinal)) return null;
        lock (_users) return _users.TryGetValue(authorization["Bearer ".Length..], out var user) ? user.User : null;
    }

    private bool MayWrite(HttpListenerRequest request, string space)
    {
        string token = request.Headers["Authorization"]!["Bearer ".Length..];
        lock (_users) return _users.TryGetValue(token, out var user) && (user.User == space || user.Orgs.Contains(space));
    }

    private static JsonObject? TryParse(byte[] body)
    {
        try
        {
            return body.Length == 0 ? null : JsonNode.Parse(body) as JsonObject;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    /// <summary>The hub's error answer: the message in <c>X-Error-Message</c> and as the body's <c>error</c>.</summary>
    private static long SendError(HttpListenerResponse response, int status, string message, string? errorCode = null)
    {
        response.Headers["X-Error-Message"] = message;
        if (errorCode is not null) response.Headers["X-Error-Code"] = errorCode;
        return SendJson(response, status, new JsonObject { ["error"] = message });
    }

    private static long SendJson(HttpListenerResponse response, int status, JsonObject json)
    {
        byte[] body = Encoding.UTF8.GetBytes(json.ToJsonString());
        response.StatusCode = status;
        response.ContentType = "application/json";
        response.ContentLength64 = body.Length;
        response.OutputStream.Write(body);
        return body.Length;
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
        // On Linux, closing removes the two prefixes one by one, and removing the second can try to bind the port
        // again for that host name: "Address already in use" when the first endpoint is still being released (seen in
        // a repeat run of the suite). The server is stopped either way; a teardown error must not fail the test.
        try { _listener.Close(); } catch (HttpListenerException) { }
        try { _loop.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
    }
}
