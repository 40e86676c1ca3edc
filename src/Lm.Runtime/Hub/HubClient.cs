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
/// Downloads model repositories from a Hugging Face hub endpoint into the shared hub cache (<see cref="HubCache"/>),
/// the way <c>hf_hub_download</c> does: a <c>HEAD</c> on the resolve address gives the commit and the content id,
/// the bytes go to <c>blobs/&lt;etag&gt;.incomplete</c> (resumed with a <c>Range</c> request after an interruption,
/// in this run or a later one), are checked against the content id (sha256 for LFS files, git blob sha1 otherwise),
/// and only then become <c>blobs/&lt;etag&gt;</c> with a snapshot link pointing at them.
/// </summary>
public sealed class HubClient : IDisposable
{
    /// <summary>Files a model folder may carry besides config.json and the weights; each is optional.</summary>
    public static readonly IReadOnlyList<string> OptionalModelFiles = new[]
    {
        "generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
        "vocab.json", "merges.txt", "vocab.txt", "added_tokens.json",
    };

    private const int MaxAttempts = 5;
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(60);

    private readonly HubSettings _settings;
    private readonly HttpClient _http;
    private readonly Uri _endpoint;

    /// <param name="settings">Endpoint, cache and token (see <see cref="HubSettings.FromEnvironment"/>).</param>
    /// <param name="kind">Model or dataset repositories.</param>
    /// <param name="handler">The HTTP stack; a redirect-free <see cref="SocketsHttpHandler"/> when null.</param>
    public HubClient(HubSettings settings, HubRepoKind kind = HubRepoKind.Model, HttpMessageHandler? handler = null)
    {
        _settings = settings;
        if (!Uri.TryCreate(settings.Endpoint.TrimEnd('/') + "/", UriKind.Absolute, out var endpoint)
            || endpoint.Scheme is not ("http" or "https") || endpoint.Host.Length == 0)
            throw new LmException(ErrorCodes.InvalidHubEndpoint,
                $"HF_ENDPOINT '{SafePath.Printable(settings.Endpoint)}' is not an http:// or https:// address; unset it to use the default hub");
        _endpoint = endpoint;
        // Redirects are followed by hand: the hub redirects LFS files to a CDN on another host, which must
        // not receive the token.
        _http = new HttpClient(handler ?? new SocketsHttpHandler { AllowAutoRedirect = false, AutomaticDecompression = DecompressionMethods.None })
        {
            Timeout = TimeSpan.FromSeconds(100),
        };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("lm-tune/" + typeof(HubClient).Assembly.GetName().Version);
        Cache = new HubCache(settings.CacheDir, kind);
        _pathPrefix = kind == HubRepoKind.Dataset ? "datasets/" : "";
    }

    private readonly string _pathPrefix;

    public HubCache Cache { get; }

    /// <summary>Lines worth showing a user (what is downloaded, resumed, reused).</summary>
    public event Action<string>? Log;

    /// <summary>
    /// Downloads config.json, the safetensors weights (single file, or the sharded index and its shards) and the
    /// tokenizer and generation files a repository has, and returns the snapshot folder holding them.
    /// </summary>
    public async Task<string> DownloadModelAsync(string repoId, string revision, CancellationToken cancellation)
    {
        HubCache.RequireRevision(revision);
        var config = await DownloadFileAsync(repoId, revision, "config.json", cancellation)
            ?? throw new LmException(ErrorCodes.HubFileMissing, $"hub repository '{repoId}' ({revision}) has no config.json; it is not a transformers model");
        // Later files come from the commit config.json resolved to, so the snapshot is one consistent revision.
        string commit = config.Commit;
        var weights = await DownloadFileAsync(repoId, commit, "model.safetensors", cancellation);
        if (weights is null)
        {
            var index = await DownloadFileAsync(repoId, commit, "model.safetensors.index.json", cancellation)
                ?? throw new LmException(ErrorCodes.HubFileMissing,
                    $"hub repository '{repoId}' has no model.safetensors or model.safetensors.index.json (lm-tune reads safetensors weights only, not pytorch_model.bin)");
            foreach (string shard in ShardNames(index.Path, repoId))
            {
                _ = await DownloadFileAsync(repoId, commit, shard, cancellation)
                    ?? throw new LmException(ErrorCodes.HubFileMissing, $"hub repository '{repoId}' lists shard '{shard}' in its index but does not have it");
            }
        }
        foreach (string optional in OptionalModelFiles)
            await DownloadFileAsync(repoId, commit, optional, cancellation);
        Cache.WriteRef(repoId, revision, commit);
        return Cache.SnapshotFolder(repoId, commit);
    }

    /// <summary>
    /// Downloads every parquet file under <paramref name="folder"/> of a dataset repository (a config's folder, such as
    /// <c>wikitext-2-raw-v1/</c>), listed by the hub's tree API, and returns the snapshot folder; null when the
    /// repository has no such folder.
    /// </summary>
    public async Task<string?> DownloadParquetFolderAsync(string repoId, string revision, string folder, CancellationToken cancellation)
    {
        HubCache.RequireRevision(revision);
        SafePath.RequireRelativePath(folder, $"the dataset folder of {repoId}");
        var address = new Uri(_endpoint, $"api/{_pathPrefix}{repoId}/tree/{Uri.EscapeDataString(revision)}/{string.Join('/', folder.Split('/').Select(Uri.EscapeDataString))}");
        using var response = await SendAsync(HttpMethod.Get, address, 0, followAbsoluteRedirects: false, repoId, folder, cancellation);
        string? errorCode = Header(response, "X-Error-Code");
        if (response.StatusCode == HttpStatusCode.NotFound && errorCode == "EntryNotFound") return null;
        ThrowForRepositoryErrors(response, errorCode, repoId, revision, folder);
        if (!response.IsSuccessStatusCode)
            throw new LmException(ErrorCodes.HubDownloadFailed, $"{repoId}/{folder}: listing failed, the hub answered {(int)response.StatusCode} {response.ReasonPhrase}");
        JsonArray? listing;
        try
        {
            listing = JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellation)) as JsonArray;
        }
        catch (JsonException)
        {
            listing = null;
        }
        if (listing is null)
            throw new LmException(ErrorCodes.HubDownloadFailed, $"{repoId}/{folder}: the hub's file listing is not a JSON array");
        var files = listing.OfType<JsonObject>()
            .Where(e => StringValue(e["type"]) == "file")
            .Select(e => StringValue(e["path"]))
            .OfType<string>()
            .Where(p => p.EndsWith(".parquet", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList();
        // The listing names the files the cache will hold: every one is checked before the first download.
        foreach (string file in files)
            SafePath.RequireRelativePath(file, $"a file name in the hub's listing of {repoId}/{folder}");
        return files.Count == 0 ? null : await DownloadFilesAsync(repoId, revision, files, cancellation);
    }

    /// <summary>
    /// Downloads <paramref name="files"/> (all required) from one commit of the repository and returns the snapshot
    /// folder; null when the repository lacks the first of them.
    /// </summary>
    public async Task<string?> DownloadFilesAsync(string repoId, string revision, IReadOnlyList<string> files, CancellationToken cancellation)
    {
        HubCache.RequireRevision(revision);
        foreach (string file in files) SafePath.RequireRelativePath(file, $"a file name asked of {repoId}");
        string? commit = null;
        foreach (string file in files)
        {
            var downloaded = await DownloadFileAsync(repoId, commit ?? revision, file, cancellation);
            if (downloaded is null && commit is null) return null;
            commit ??= downloaded!.Commit;
            if (downloaded is null)
                throw new LmException(ErrorCodes.HubFileMissing, $"'{repoId}' ({commit}) has no {file}");
        }
        if (commit is null) return null;
        Cache.WriteRef(repoId, revision, commit);
        return Cache.SnapshotFolder(repoId, commit);
    }

    /// <summary>A file in the snapshot and the commit it came from; null when the repository has no such file.</summary>
    public sealed record DownloadedFile(string Path, string Commit);

    /// <summary>
    /// Makes <paramref name="fileName"/> of <paramref name="repoId"/> at <paramref name="revision"/> present in the cache;
    /// returns null when the repository does not have that file.
    /// </summary>
    public async Task<DownloadedFile?> DownloadFileAsync(string repoId, string revision, string fileName, CancellationToken cancellation)
    {
        if (_settings.Offline)
            throw new InvalidOperationException("HubClient must not be used when HF_HUB_OFFLINE is set; resolve from the cache instead");
        SafePath.RequireRelativePath(fileName, $"a file name asked of {repoId}");
        string? knownCommit = Cache.ResolveCommit(repoId, revision);
        if (knownCommit is not null && Cache.IsKnownMissing(repoId, knownCommit, fileName) && HubCache.IsCommitHash(revision))
            return null;

        var metadata = await GetMetadataAsync(repoId, revision, fileName, cancellation);
        if (metadata is null)
        {
            if (knownCommit is not null) Cache.MarkMissing(repoId, knownCommit, fileName);
            return null;
        }
        string blob = Cache.BlobPath(repoId, metadata.Etag);
        string pointer = Cache.SnapshotFile(repoId, metadata.Commit, fileName);
        if (!File.Exists(blob))
        {
            await DownloadBlobAsync(repoId, fileName, metadata, blob, cancellation);
        }
        else
        {
            Log?.Invoke($"{repoId}/{fileName}: in the cache");
        }
        if (!File.Exists(pointer) || new FileInfo(pointer).Length != new FileInfo(blob).Length)
            Cache.LinkIntoSnapshot(repoId, metadata.Commit, fileName, metadata.Etag);
        Cache.WriteRef(repoId, revision, metadata.Commit);
        return new DownloadedFile(pointer, metadata.Commit);
    }

    /// <summary>The <c>HEAD</c> of a resolve address; null when the repository has no such file.</summary>
    public async Task<HubFileMetadata?> GetMetadataAsync(string repoId, string revision, string fileName, CancellationToken cancellation)
    {
        var address = ResolveAddress(repoId, revision, fileName);
        using var response = await SendAsync(HttpMethod.Head, address, rangeStart: 0, followAbsoluteRedirects: false, repoId, fileName, cancellation);
        string? errorCode = Header(response, "X-Error-Code");
        if (response.StatusCode == HttpStatusCode.NotFound && errorCode == "EntryNotFound") return null;
        ThrowForRepositoryErrors(response, errorCode, repoId, revision, fileName);
        if ((int)response.StatusCode >= 400)
            throw new LmException(ErrorCodes.HubDownloadFailed, $"{repoId}/{fileName}: the hub answered {(int)response.StatusCode} {response.ReasonPhrase}");

        string? commit = Header(response, "X-Repo-Commit");
        string? etag = Header(response, "X-Linked-Etag") ?? response.Headers.ETag?.Tag ?? Header(response, "ETag");
        if (commit is null || etag is null)
            throw new LmException(ErrorCodes.HubDownloadFailed,
                $"{repoId}/{fileName}: {_settings.Endpoint} did not send the X-Repo-Commit and ETag headers a Hugging Face hub sends; is HF_ENDPOINT a hub?");
        // The commit names the snapshot folder: a server must not choose where files go.
        HubCache.RequireCommit(commit, $"the X-Repo-Commit header the hub sent for {repoId}/{fileName}");
        long? size = long.TryParse(Header(response, "X-Linked-Size"), out long linked) ? linked : response.Content.Headers.ContentLength;
        var location = response.Headers.Location is { } redirect ? new Uri(address, redirect) : address;
        // The bytes are fetched from there: only the web, never file:// or another scheme the server names.
        if (location.Scheme is not ("http" or "https"))
            throw new LmException(ErrorCodes.HubDownloadFailed,
                $"{repoId}/{fileName}: the hub redirected to '{SafePath.Printable(location.OriginalString)}', which is not an http(s) address");
        etag = NormalizeEtag(etag);
        // The etag names a file in blobs/: anything but a plain token would escape that folder.
        if (etag.Length == 0 || !etag.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            throw new LmException(ErrorCodes.HubDownloadFailed, $"{repoId}/{fileName}: the hub sent an unusable ETag '{etag}'");
        return new HubFileMetadata(commit, etag, size, location);
    }

    private async Task DownloadBlobAsync(string repoId, string fileName, HubFileMetadata metadata, string blob, CancellationToken cancellation)
    {
        Cache.CreateBlobsFolder(repoId);
        string incomplete = blob + ".incomplete";
        for (int attempt = 1; ; attempt++)
        {
            long have = File.Exists(incomplete) ? new FileInfo(incomplete).Length : 0;
            Log?.Invoke(have > 0
                ? $"{repoId}/{fileName}: resuming at {have:N0} of {metadata.Size?.ToString("N0") ?? "?"} bytes"
                : $"{repoId}/{fileName}: downloading {metadata.Size?.ToString("N0") ?? "?"} bytes");
            try
            {
                if (metadata.Size is null || have < metadata.Size)
                    await ReceiveIntoAsync(incomplete, have, metadata, repoId, fileName, cancellation);
                break;
            }
            catch (Exception e) when (IsTransient(e, cancellation) && attempt < MaxAttempts)
            {
                Log?.Invoke($"{repoId}/{fileName}: interrupted ({e.Message}); retrying");
                await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt), cancellation);
            }
            catch (Exception e) when (IsTransient(e, cancellation))
            {
                throw new LmException(ErrorCodes.HubDownloadFailed,
                    $"{repoId}/{fileName}: download failed after {MaxAttempts} attempts ({e.Message}); the partial file {incomplete} is kept and the next run resumes it", e);
            }
        }
        Verify(incomplete, metadata, repoId, fileName);
        File.Move(incomplete, blob, overwrite: true);
    }

    private async Task ReceiveIntoAsync(string incomplete, long have, HubFileMetadata metadata, string repoId, string fileName, CancellationToken cancellation)
    {
        using var response = await SendAsync(HttpMethod.Get, metadata.Location, have, followAbsoluteRedirects: true, repoId, fileName, cancellation);
        if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            // The partial file is not a prefix of what the server has now: start over.
            File.Delete(incomplete);
            throw new IOException("the server refused to resume the partial download");
        }
        if (!response.IsSuccessStatusCode)
            throw new LmException(ErrorCodes.HubDownloadFailed, $"{repoId}/{fileName}: the hub answered {(int)response.StatusCode} {response.ReasonPhrase}");
        bool resumed = response.StatusCode == HttpStatusCode.PartialContent;
        await using var file = new FileStream(incomplete, resumed ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None);
        await using var body = await response.Content.ReadAsStreamAsync(cancellation);
        var buffer = new byte[1 << 16];
        while (true)
        {
            // A stalled connection counts as an interruption rather than hanging the run.
            using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            stall.CancelAfter(ReadTimeout);
            int read = await body.ReadAsync(buffer, stall.Token);
            if (read == 0) break;
            // A server that sends more than it announced would fill the disk: stop at the announced size.
            if (metadata.Size is { } announced && file.Length + read > announced)
            {
                file.Close();
                File.Delete(incomplete);
                throw new LmException(ErrorCodes.HubChecksumMismatch,
                    $"{repoId}/{fileName}: the hub sent more than the {announced:N0} bytes it announced; nothing was kept");
            }
            await file.WriteAsync(buffer.AsMemory(0, read), cancellation);
        }
        await file.FlushAsync(cancellation);
        if (metadata.Size is { } size && file.Length < size)
            throw new IOException($"connection closed at {file.Length:N0} of {size:N0} bytes");
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, Uri address, long rangeStart, bool followAbsoluteRedirects,
        string repoId, string fileName, CancellationToken cancellation)
    {
        for (int redirects = 0; ; redirects++)
        {
            using var request = new HttpRequestMessage(method, address);
            request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("identity"));
            if (rangeStart > 0) request.Headers.Range = new RangeHeaderValue(rangeStart, null);
            HubAuthorization.Apply(request, _endpoint, _settings.Endpoint, _settings.Token);
            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellation);
            }
            catch (HttpRequestException e) when (method == HttpMethod.Head)
            {
                throw new LmException(ErrorCodes.HubDownloadFailed,
                    $"cannot reach {_settings.Endpoint} for {repoId}/{fileName}: {e.Message} (set HF_HUB_OFFLINE=1 to use only cached models)", e);
            }
            int status = (int)response.StatusCode;
            if (status is < 300 or >= 400 || response.Headers.Location is null || redirects >= 10) return response;
            var next = response.Headers.Location;
            // huggingface_hub follows relative redirects (renamed repositories) and stops at absolute ones (the CDN).
            if (next.IsAbsoluteUri && !followAbsoluteRedirects) return response;
            address = new Uri(address, next);
            if (address.Scheme is not ("http" or "https"))
                throw new LmException(ErrorCodes.HubDownloadFailed,
                    $"{repoId}/{fileName}: the hub redirected to '{SafePath.Printable(address.OriginalString)}', which is not an http(s) address");
            response.Dispose();
        }
    }

    private Uri ResolveAddress(string repoId, string revision, string fileName)
    {
        string path = string.Join('/', fileName.Split('/').Select(Uri.EscapeDataString));
        return new Uri(_endpoint, $"{_pathPrefix}{repoId}/resolve/{Uri.EscapeDataString(revision)}/{path}");
    }

    private static void ThrowForRepositoryErrors(HttpResponseMessage response, string? errorCode, string repoId, string revision, string fileName)
    {
        if (errorCode == "RevisionNotFound")
            throw new LmException(ErrorCodes.HubRepositoryNotFound, $"hub repository '{repoId}' has no revision '{revision}'");
        if (errorCode is "RepoNotFound" or "GatedRepo" || response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden
            || (response.StatusCode == HttpStatusCode.NotFound && errorCode is null))
        {
            string why = errorCode == "GatedRepo" || response.StatusCode == HttpStatusCode.Forbidden
                ? "is gated: accept its terms on the hub and set HF_TOKEN"
                : "does not exist, or is private (set HF_TOKEN to a token that can read it)";
            throw new LmException(ErrorCodes.HubRepositoryNotFound, $"hub repository '{repoId}' {why} (asked for {fileName})");
        }
    }

    private static void Verify(string path, HubFileMetadata metadata, string repoId, string fileName)
    {
        long length = new FileInfo(path).Length;
        string? problem = null;
        if (metadata.Size is { } size && length != size)
            problem = $"it has {length:N0} bytes where the hub announced {size:N0}";
        else if (metadata.Etag.Length == 64 && IsHex(metadata.Etag))
        {
            using var stream = File.OpenRead(path);
            string actual = Convert.ToHexStringLower(SHA256.HashData(stream));
            if (actual != metadata.Etag) problem = $"its sha256 is {actual} where the hub announced {metadata.Etag}";
        }
        else if (metadata.Etag.Length == 40 && IsHex(metadata.Etag))
        {
            string actual = GitBlobSha1(path, length);
            if (actual != metadata.Etag) problem = $"its git blob sha1 is {actual} where the hub announced {metadata.Etag}";
        }
        if (problem is null) return;
        File.Delete(path);
        throw new LmException(ErrorCodes.HubChecksumMismatch,
            $"{repoId}/{fileName}: the download is corrupted ({problem}); it was deleted, run again to download it afresh") { File = fileName };
    }

    /// <summary>The id git gives a file's contents: sha1 of <c>"blob &lt;length&gt;\0"</c> followed by the bytes.</summary>
    private static string GitBlobSha1(string path, long length)
    {
        using var sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
        sha1.AppendData(Encoding.ASCII.GetBytes($"blob {length}\0"));
        using var stream = File.OpenRead(path);
        var buffer = new byte[1 << 16];
        int read;
        while ((read = stream.Read(buffer)) > 0) sha1.AppendData(buffer, 0, read);
        return Convert.ToHexStringLower(sha1.GetHashAndReset());
    }

    /// <summary>
    /// The shard files a downloaded index names, each checked to be a safe relative path before the first of them is
    /// downloaded: the index comes from the server, and its names become files in the snapshot.
    /// </summary>
    private static List<string> ShardNames(string indexPath, string repoId)
    {
        JsonObject? index;
        try
        {
            index = JsonNode.Parse(File.ReadAllText(indexPath)) as JsonObject;
        }
        catch (JsonException e)
        {
            throw new LmException(ErrorCodes.ShardIndexInvalid, $"{indexPath}: the safetensors index of {repoId} is not valid JSON: {e.Message}", e) { File = indexPath };
        }
        if (index?["weight_map"] is not JsonObject map)
            throw new LmException(ErrorCodes.HubFileMissing, $"{indexPath}: the safetensors index has no weight_map") { File = indexPath };
        var shards = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (tensor, value) in map)
        {
            string shard = StringValue(value) ?? throw new LmException(ErrorCodes.ShardIndexInvalid,
                $"{indexPath}: weight_map maps '{tensor}' to {value?.ToJsonString() ?? "null"}, not to a shard file name") { File = indexPath };
            shards.Add(SafePath.RequireRelativePath(shard, $"a shard name in {repoId}'s model.safetensors.index.json"));
        }
        return shards.ToList();
    }

    /// <summary>A JSON string's value; null for anything else (a number where the hub sends a name).</summary>
    private static string? StringValue(JsonNode? node) =>
        node is JsonValue value && value.TryGetValue(out string? text) ? text : null;

    private static bool IsTransient(Exception e, CancellationToken cancellation) =>
        !cancellation.IsCancellationRequested && e is IOException or HttpRequestException or OperationCanceledException;

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
            ? values.FirstOrDefault()
            : null;

    /// <summary>huggingface_hub's etag normalisation: no weak prefix, no quotes.</summary>
    private static string NormalizeEtag(string etag)
    {
        string value = etag.StartsWith("W/", StringComparison.Ordinal) ? etag[2..] : etag;
        return value.Trim('"');
    }

    private static bool IsHex(string value) => value.All(Uri.IsHexDigit);

    public void Dispose() => _http.Dispose();
}
