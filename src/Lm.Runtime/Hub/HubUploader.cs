using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lm.Runtime.Errors;
using Lm.Runtime.Files;

namespace Lm.Runtime.Hub;

/// <summary>
/// Creates model repositories and commits files to them with the hub's HTTP API, as huggingface_hub's
/// <c>create_repo</c> and <c>create_commit</c> do: <c>POST /api/repos/create</c> (an existing repository is fine),
/// the preupload check (<c>POST /api/models/{repo}/preupload/{revision}</c>: the hub says which files go to LFS, which
/// it ignores, and the id of what it already has), the LFS batch API for LFS files not yet stored (then the
/// <c>PUT</c> to the address it returns and the verify call when it asks for one), and the commit
/// (<c>POST /api/models/{repo}/commit/{revision}</c>, NDJSON: a header line, <c>file</c> lines with base64 content
/// for regular files, <c>lfsFile</c> lines with sha256 and size for LFS files). Files the hub already has with the
/// same content are left out, and a commit with nothing left is not made. The token goes to the endpoint only.
/// </summary>
public sealed class HubUploader : IDisposable
{
    /// <summary>huggingface_hub asks the preupload endpoint about 256 files at a time.</summary>
    private const int PreuploadChunk = 256;

    private readonly HubSettings _settings;
    private readonly string _token;
    private readonly HttpClient _http;
    private readonly Uri _endpoint;

    /// <param name="settings">The endpoint (<c>HF_ENDPOINT</c>).</param>
    /// <param name="token">A token with write access; never printed.</param>
    /// <param name="handler">The HTTP stack; a redirect-free <see cref="SocketsHttpHandler"/> when null.</param>
    public HubUploader(HubSettings settings, string token, HttpMessageHandler? handler = null)
    {
        _settings = settings;
        _token = token;
        if (!Uri.TryCreate(settings.Endpoint.TrimEnd('/') + "/", UriKind.Absolute, out var endpoint)
            || endpoint.Scheme is not ("http" or "https") || endpoint.Host.Length == 0)
            throw new LmException(ErrorCodes.InvalidHubEndpoint,
                $"HF_ENDPOINT '{SafePath.Printable(settings.Endpoint)}' is not an http:// or https:// address; unset it to use the default hub");
        _endpoint = endpoint;
        _http = new HttpClient(handler ?? new SocketsHttpHandler { AllowAutoRedirect = false }) { Timeout = TimeSpan.FromMinutes(30) };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("lm-tune/" + typeof(HubUploader).Assembly.GetName().Version);
    }

    /// <summary>Lines worth showing a user (what is uploaded, what the hub already has).</summary>
    public event Action<string>? Log;

    /// <summary>
    /// huggingface_hub's <c>create_repo(repo_id, private=..., exist_ok=True)</c>: creates the model repository, or
    /// finds it existing (409), and returns its full id from the address the hub answers (a bare <c>name</c> is
    /// created under the token's user, so the hub names the namespace).
    /// </summary>
    public async Task<string> CreateRepoAsync(string repoId, bool? isPrivate, CancellationToken cancellation)
    {
        HubRepoId.Require(repoId, "hub_model_id");
        int slash = repoId.IndexOf('/');
        var body = new JsonObject
        {
            ["name"] = slash < 0 ? repoId : repoId[(slash + 1)..],
            ["organization"] = slash < 0 ? null : repoId[..slash],
        };
        if (isPrivate is bool p) body["private"] = p;
        using var response = await SendAsync(HttpMethod.Post, new Uri(_endpoint, "api/repos/create"), Json(body), null, cancellation);
        // exist_ok and a token that may write to the repository but not create in its namespace: the hub answers 403,
        // and huggingface_hub then asks repo_info and goes on when the repository is there.
        if (response.StatusCode == HttpStatusCode.Forbidden && slash >= 0 && await ExistsAsync(repoId, cancellation))
        {
            Log?.Invoke($"hub repository {repoId} exists");
            return repoId;
        }
        // exist_ok: a repository that exists answers 409 with its address.
        if (response.StatusCode != HttpStatusCode.Conflict) await ThrowForStatusAsync(response, $"creating hub repository '{repoId}'", cancellation);
        var answer = await ReadJsonAsync(response, $"creating hub repository '{repoId}'", cancellation);
        string? url = Text(answer["url"]);
        string created = url is null ? repoId : RepoIdFromUrl(url) ?? repoId;
        HubRepoId.Require(created, "the repository id the hub answered");
        Log?.Invoke(response.StatusCode == HttpStatusCode.Conflict ? $"hub repository {created} exists" : $"created hub repository {created}");
        return created;
    }

    /// <summary>huggingface_hub's <c>repo_info</c>, reduced to whether the token sees the repository.</summary>
    private async Task<bool> ExistsAsync(string repoId, CancellationToken cancellation)
    {
        using var info = await SendAsync(HttpMethod.Get, new Uri(_endpoint, $"api/models/{repoId}"), null, null, cancellation);
        return info.IsSuccessStatusCode;
    }

    /// <summary>
    /// huggingface_hub's <c>create_commit</c> with one addition per file; returns the commit, or null when the hub
    /// already had every file with the same content (huggingface_hub then skips the empty commit too).
    /// </summary>
    public async Task<HubCommit?> CommitAsync(string repoId, string revision, IReadOnlyList<HubUploadFile> files, string summary,
        CancellationToken cancellation)
    {
        HubRepoId.Require(repoId, "hub_model_id");
        HubCache.RequireRevision(revision);
        var additions = files.Select(f => Describe(f)).ToList();
        await FetchUploadModesAsync(repoId, revision, additions, cancellation);
        var changed = additions.Where(a => !a.ShouldIgnore && a.RemoteOid != a.LocalOid).ToList();
        foreach (var ignored in additions.Where(a => a.ShouldIgnore))
            Log?.Invoke($"{ignored.File.PathInRepo}: ignored by the repository's .gitignore");
        if (changed.Count == 0)
        {
            Log?.Invoke($"{repoId}: no file has changed since the last commit; nothing pushed");
            return null;
        }
        await UploadLfsAsync(repoId, revision, changed.Where(a => a.Lfs).ToList(), cancellation);

        var lines = new List<string>
        {
            Line("header", new JsonObject { ["summary"] = summary, ["description"] = "" }),
        };
        foreach (var addition in changed)
        {
            lines.Add(addition.Lfs
                ? Line("lfsFile", new JsonObject
                {
                    ["path"] = addition.File.PathInRepo, ["algo"] = "sha256", ["oid"] = addition.Sha256, ["size"] = addition.Size,
                })
                : Line("file", new JsonObject
                {
                    ["content"] = Convert.ToBase64String(await File.ReadAllBytesAsync(addition.File.LocalPath, cancellation)),
                    ["path"] = addition.File.PathInRepo, ["encoding"] = "base64",
                }));
        }
        var content = new StringContent(string.Join("\n", lines) + "\n", Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
        string what = $"committing to {repoId}@{revision}";
        using var response = await SendAsync(HttpMethod.Post, ApiAddress(repoId, "commit", revision), content, null, cancellation);
        await ThrowForStatusAsync(response, what, cancellation);
        var answer = await ReadJsonAsync(response, what, cancellation);
        string oid = Text(answer["commitOid"]) ?? throw new LmException(ErrorCodes.HubPushFailed,
            $"{what}: {_settings.Endpoint} answered without the commitOid a Hugging Face hub sends; is HF_ENDPOINT a hub?");
        return new HubCommit(oid, Text(answer["commitUrl"]) ?? "", changed.Select(a => a.File.PathInRepo).ToList());
    }

    private sealed class Addition(HubUploadFile file, long size, string sha256, string sample)
    {
        public HubUploadFile File { get; } = file;
        public long Size { get; } = size;
        public string Sha256 { get; } = sha256;
        public string Sample { get; } = sample;
        public bool Lfs { get; set; }
        public bool ShouldIgnore { get; set; }
        public string? RemoteOid { get; set; }

        /// <summary>huggingface_hub's <c>_local_oid</c>: sha256 for an LFS file, the git blob sha1 for a regular one.</summary>
        public string LocalOid => Lfs ? Sha256 : GitBlobSha1;

        public string GitBlobSha1 { get; set; } = "";
    }

    private static Addition Describe(HubUploadFile file)
    {
        SafePath.RequireRelativePath(file.PathInRepo, "a path in the repository");
        using var stream = File.OpenRead(file.LocalPath);
        long size = stream.Length;
        var sample = new byte[Math.Min(512, size)];
        stream.ReadExactly(sample);
        stream.Position = 0;
        using var sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
        sha1.AppendData(Encoding.ASCII.GetBytes($"blob {size}\0"));
        var buffer = new byte[1 << 16];
        int read;
        while ((read = stream.Read(buffer)) > 0)
        {
            sha256.AppendData(buffer, 0, read);
            sha1.AppendData(buffer, 0, read);
        }
        return new Addition(file, size, Convert.ToHexStringLower(sha256.GetHashAndReset()), Convert.ToBase64String(sample))
        {
            GitBlobSha1 = Convert.ToHexStringLower(sha1.GetHashAndReset()),
        };
    }

    /// <summary>huggingface_hub's <c>_fetch_upload_modes</c>: the hub decides LFS or regular, and what it ignores.</summary>
    private async Task FetchUploadModesAsync(string repoId, string revision, List<Addition> additions, CancellationToken cancellation)
    {
        string what = $"the preupload check of {repoId}@{revision}";
        foreach (var chunk in additions.Chunk(PreuploadChunk))
        {
            var files = new JsonArray();
            foreach (var a in chunk)
                files.Add(new JsonObject { ["path"] = a.File.PathInRepo, ["sample"] = a.Sample, ["size"] = a.Size });
            using var response = await SendAsync(HttpMethod.Post, ApiAddress(repoId, "preupload", revision), Json(new JsonObject { ["files"] = files }), null, cancellation);
            await ThrowForStatusAsync(response, what, cancellation);
            var answer = await ReadJsonAsync(response, what, cancellation);
            var byPath = (answer["files"] as JsonArray ?? throw Unexpected(what, "no files list"))
                .OfType<JsonObject>()
                .Where(f => Text(f["path"]) is not null)
                .ToDictionary(f => Text(f["path"])!, StringComparer.Ordinal);
            foreach (var a in chunk)
            {
                if (!byPath.TryGetValue(a.File.PathInRepo, out var info)) throw Unexpected(what, $"no answer for '{a.File.PathInRepo}'");
                string? mode = Text(info["uploadMode"]);
                if (mode is not ("lfs" or "regular")) throw Unexpected(what, $"upload mode '{mode}' for '{a.File.PathInRepo}'");
                // S3 cannot take an empty LFS object: huggingface_hub sends empty files as regular ones.
                a.Lfs = mode == "lfs" && a.Size > 0;
                a.ShouldIgnore = info["shouldIgnore"] is JsonValue ignore && ignore.GetValueKind() == JsonValueKind.True;
                a.RemoteOid = Text(info["oid"]);
            }
        }
    }

    /// <summary>
    /// The LFS batch API (<c>{repo}.git/info/lfs/objects/batch</c>, basic transfer): objects the hub lacks come back
    /// with an upload action, whose address gets the bytes (without the token: it is storage, not the hub), then the
    /// verify action when there is one.
    /// </summary>
    private async Task UploadLfsAsync(string repoId, string revision, List<Addition> lfs, CancellationToken cancellation)
    {
        if (lfs.Count == 0) return;
        string what = $"the LFS batch request of {repoId}";
        var objects = new JsonArray();
        foreach (var a in lfs.DistinctBy(a => a.Sha256)) objects.Add(new JsonObject { ["oid"] = a.Sha256, ["size"] = a.Size });
        var body = new JsonObject
        {
            ["operation"] = "upload", ["transfers"] = new JsonArray("basic"), ["objects"] = objects, ["hash_algo"] = "sha256",
            ["ref"] = new JsonObject { ["name"] = revision },
        };
        var content = new StringContent(body.ToJsonString(), Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/vnd.git-lfs+json");
        using var response = await SendAsync(HttpMethod.Post, new Uri(_endpoint, $"{repoId}.git/info/lfs/objects/batch"), content,
            request => request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/vnd.git-lfs+json")), cancellation);
        await ThrowForStatusAsync(response, what, cancellation);
        var answer = await ReadJsonAsync(response, what, cancellation);
        var byOid = lfs.DistinctBy(a => a.Sha256).ToDictionary(a => a.Sha256, StringComparer.Ordinal);
        foreach (var entry in (answer["objects"] as JsonArray ?? throw Unexpected(what, "no objects list")).OfType<JsonObject>())
        {
            string oid = Text(entry["oid"]) ?? throw Unexpected(what, "an object without oid");
            if (!byOid.TryGetValue(oid, out var addition)) throw Unexpected(what, $"an object '{SafePath.Printable(oid)}' that was not asked for");
            if (entry["error"] is JsonObject error)
                throw new LmException(ErrorCodes.HubPushFailed,
                    $"{addition.File.PathInRepo}: the hub refused the LFS upload ({Text(error["code"]) ?? error["code"]?.ToJsonString()}: {Printable(Text(error["message"]))})");
            if (entry["actions"] is not JsonObject actions || actions["upload"] is not JsonObject upload)
            {
                Log?.Invoke($"{addition.File.PathInRepo}: already on the hub ({addition.Size:N0} bytes)");
                continue;
            }
            Log?.Invoke($"{addition.File.PathInRepo}: uploading {addition.Size:N0} bytes");
            await PutObjectAsync(addition, upload, cancellation);
            if (actions["verify"] is JsonObject verify)
            {
                using var verified = await SendAsync(HttpMethod.Post, ActionAddress(verify, what),
                    Json(new JsonObject { ["oid"] = oid, ["size"] = addition.Size }), request => AddHeaders(request, verify), cancellation);
                await ThrowForStatusAsync(verified, $"verifying the upload of {addition.File.PathInRepo}", cancellation);
            }
        }
    }

    private async Task PutObjectAsync(Addition addition, JsonObject upload, CancellationToken cancellation)
    {
        string what = $"uploading {addition.File.PathInRepo}";
        if (upload["header"] is JsonObject header && header.ContainsKey("chunk_size"))
            throw new LmException(ErrorCodes.HubPushFailed, $"{what}: the hub asked for a multipart upload, which lm-tune does not implement; it asked for basic transfers only");
        await using var stream = File.OpenRead(addition.File.LocalPath);
        // huggingface_hub sends storage uploads without the token: the address is the storage's, signed by the hub.
        var content = new StreamContent(stream);
        content.Headers.ContentLength = addition.Size;
        using var response = await SendAsync(HttpMethod.Put, ActionAddress(upload, what), content, request => AddHeaders(request, upload), cancellation,
            withToken: false);
        await ThrowForStatusAsync(response, what, cancellation);
    }

    private Uri ActionAddress(JsonObject action, string what)
    {
        string href = Text(action["href"]) ?? throw Unexpected(what, "an action without href");
        if (!Uri.TryCreate(_endpoint, href, out var address) || address.Scheme is not ("http" or "https"))
            throw Unexpected(what, $"an action address '{SafePath.Printable(href)}' that is not http(s)");
        return address;
    }

    private static void AddHeaders(HttpRequestMessage request, JsonObject action)
    {
        if (action["header"] is not JsonObject header) return;
        foreach (var (name, value) in header)
        {
            // The hub's own headers for its storage; an Authorization among them is the hub's, not the user's token.
            if (Text(value) is { } text) request.Headers.TryAddWithoutValidation(name, text);
        }
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, Uri address, HttpContent? content,
        Action<HttpRequestMessage>? prepare, CancellationToken cancellation, bool withToken = true)
    {
        using var request = new HttpRequestMessage(method, address) { Content = content };
        if (withToken) HubAuthorization.Apply(request, _endpoint, _settings.Endpoint, _token);
        prepare?.Invoke(request);
        try
        {
            return await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellation);
        }
        catch (Exception e) when (e is HttpRequestException or IOException || (e is OperationCanceledException && !cancellation.IsCancellationRequested))
        {
            throw new LmException(ErrorCodes.HubPushFailed, $"cannot reach {_settings.Endpoint} ({method} {address.AbsolutePath}): {e.Message}", e);
        }
    }

    /// <summary>The hub's refusals as LM errors carrying its own message (<c>X-Error-Message</c>, else the body's <c>error</c>).</summary>
    private static async Task ThrowForStatusAsync(HttpResponseMessage response, string what, CancellationToken cancellation)
    {
        if (response.IsSuccessStatusCode) return;
        string? message = response.Headers.TryGetValues("X-Error-Message", out var values) ? values.FirstOrDefault() : null;
        if (message is null)
        {
            string body = await response.Content.ReadAsStringAsync(cancellation);
            try
            {
                message = Text((JsonNode.Parse(body) as JsonObject)?["error"]);
            }
            catch (JsonException)
            {
            }
            message ??= body.Length > 300 ? body[..300] + "..." : body;
        }
        int status = (int)response.StatusCode;
        string said = $"{what}: the hub answered {status} {response.ReasonPhrase}" + (string.IsNullOrWhiteSpace(message) ? "" : $": {Printable(message)}");
        var (code, hint) = status switch
        {
            401 => (ErrorCodes.HubPushUnauthorized, "the token is not valid; set HF_TOKEN (or --hub-token) to a token with write access"),
            403 => (ErrorCodes.HubPushForbidden, "the token may not write there; use a token with write access to the repository or organization"),
            404 => (ErrorCodes.HubPushNotFound, "check --hub-model-id and --hub-revision (the branch must exist)"),
            409 => (ErrorCodes.HubPushConflict, "the repository changed meanwhile, or the request conflicts with it; run the push again"),
            _ => (ErrorCodes.HubPushFailed, status >= 500 ? "the hub had a problem; try again later" : "the hub refused the request"),
        };
        throw new LmException(code, $"{said} ({hint})");
    }

    private async Task<JsonObject> ReadJsonAsync(HttpResponseMessage response, string what, CancellationToken cancellation)
    {
        string body = await response.Content.ReadAsStringAsync(cancellation);
        try
        {
            if (JsonNode.Parse(body) is JsonObject json) return json;
        }
        catch (JsonException)
        {
        }
        throw Unexpected(what, "an answer that is not a JSON object");
    }

    private LmException Unexpected(string what, string problem) =>
        new(ErrorCodes.HubPushFailed, $"{what}: {_settings.Endpoint} sent {problem}, not what a Hugging Face hub sends; is HF_ENDPOINT a hub?");

    private Uri ApiAddress(string repoId, string action, string revision) =>
        new(_endpoint, $"api/models/{repoId}/{action}/{Uri.EscapeDataString(revision)}");

    /// <summary>huggingface_hub's <c>RepoUrl</c>: the id is the address's path after the endpoint.</summary>
    private string? RepoIdFromUrl(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var address)) return null;
        string path = address.AbsolutePath.Trim('/');
        string endpointPath = _endpoint.AbsolutePath.Trim('/');
        if (endpointPath.Length > 0 && path.StartsWith(endpointPath + "/", StringComparison.Ordinal)) path = path[(endpointPath.Length + 1)..];
        if (path.StartsWith("models/", StringComparison.Ordinal)) path = path["models/".Length..];
        return path.Length == 0 ? null : Uri.UnescapeDataString(path);
    }

    private static StringContent Json(JsonObject body) => new(body.ToJsonString(), Encoding.UTF8, "application/json");

    private static string Line(string key, JsonObject value) => new JsonObject { ["key"] = key, ["value"] = value }.ToJsonString();

    private static string? Text(JsonNode? node) => node is JsonValue value && value.TryGetValue(out string? text) ? text : null;

    private static string Printable(string? text) => SafePath.Printable(text ?? "");

    public void Dispose() => _http.Dispose();
}

/// <summary>A commit the hub made: its id, its address and the files it added or changed.</summary>
public sealed record HubCommit(string Oid, string Url, IReadOnlyList<string> Files);
