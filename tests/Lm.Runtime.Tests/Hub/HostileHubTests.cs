using System.Net;
using System.Text;
using Lm.Runtime.Data;
using Lm.Runtime.Errors;
using Lm.Runtime.Hub;
using Lm.Runtime.Jobs;

namespace Lm.Runtime.Tests.Hub;

/// <summary>
/// A hub that answers with hostile names (commit ids that are paths, shard and listing names that climb out, refs
/// that point elsewhere): each is refused with its LM code, and a victim folder next to the cache is byte for byte
/// what it was. <c>{victim}</c> in a case stands for that folder's absolute path.
/// </summary>
public sealed class HostileHubTests : IDisposable
{
    private const string Repo = "acme/tiny-model";
    private readonly LoopbackHub _hub = new();
    private readonly string _root = Directory.CreateTempSubdirectory("lm-hostile-").FullName;
    private readonly string _victimBefore;

    public HostileHubTests()
    {
        Directory.CreateDirectory(CacheDir);
        FolderDigest.CreateVictim(Victim);
        _victimBefore = FolderDigest.Of(Victim);
        _hub.AddFile(Repo, "config.json", "{\"model_type\": \"gpt2\"}");
        _hub.AddFile(Repo, "model.safetensors", new byte[] { 9, 8, 7 }, lfs: true);
    }

    /// <summary>The hub cache; the victim is its sibling, so <c>../</c> chains from a snapshot reach it.</summary>
    private string CacheDir => Path.Combine(_root, "cache");

    private string Victim => Path.Combine(_root, "victim");

    private string RepoFolder => Path.Combine(CacheDir, "models--acme--tiny-model");

    private HubSettings Settings(bool offline = false) => new() { Endpoint = _hub.Endpoint, CacheDir = CacheDir, Offline = offline };

    private string Expand(string value) => value.Replace("{victim}", Victim, StringComparison.Ordinal);

    /// <summary>The victim is unchanged, nothing new sits beside it, and the cache holds only repository entries.</summary>
    private void AssertNothingOutsideTheCacheChanged()
    {
        Assert.Equal(_victimBefore, FolderDigest.Of(Victim));
        Assert.Equal(new[] { "cache", "victim" }, Directory.GetFileSystemEntries(_root).Select(e => Path.GetFileName(e)).Order(StringComparer.Ordinal));
        Assert.All(Directory.GetFileSystemEntries(CacheDir), entry =>
            Assert.Matches("^(models|datasets)--", Path.GetFileName(entry)));
    }

    [Theory]
    [InlineData("{victim}")]
    [InlineData("/{victim}/notes")]
    [InlineData("../../x")]
    [InlineData("../../../victim")]
    [InlineData("not-a-commit")]
    [InlineData("0123456789abcdef0123456789abcdef0123456")]
    [InlineData("0123456789ABCDEF0123456789ABCDEF01234567")]
    [InlineData("0123456789abcdef0123456789abcdef01234567/..")]
    public async Task Commit_header_that_is_not_a_sha_is_refused_before_anything_is_written(string announced)
    {
        _hub.AnnounceCommit(Repo, Expand(announced));
        using var client = new HubClient(Settings());

        var error = await Assert.ThrowsAsync<LmException>(() => client.DownloadModelAsync(Repo, "main", CancellationToken.None));

        Assert.Equal(ErrorCodes.InvalidCommitId, error.Code);
        Assert.Contains(Expand(announced), error.Message);
        Assert.Empty(Directory.GetFileSystemEntries(CacheDir));
        AssertNothingOutsideTheCacheChanged();
    }

    [Fact]
    public async Task Commit_header_that_is_a_path_is_refused_for_dataset_downloads_too()
    {
        _hub.AddFile("datasets/acme/texts", "data/train-00000-of-00001.parquet", new byte[] { 1, 2, 3 }, lfs: true);
        _hub.AnnounceCommit("datasets/acme/texts", Victim);
        var args = new DataArguments { DatasetName = "acme/texts" };

        var error = await Assert.ThrowsAsync<LmException>(() => DatasetLocator.EnsureCachedAsync(args, Settings(), null, CancellationToken.None));

        Assert.Equal(ErrorCodes.InvalidCommitId, error.Code);
        Assert.Empty(Directory.GetFileSystemEntries(CacheDir));
        AssertNothingOutsideTheCacheChanged();
    }

    [Theory]
    [InlineData("0123456789abcdef0123456789abcdef01234567", true)]
    [InlineData("0123456789abcdef0123456789abcdef01234567\n", false)]
    [InlineData("0123456789abcdef0123456789abcdef01234567/", false)]
    [InlineData(" 0123456789abcdef0123456789abcdef01234567", false)]
    [InlineData("main", false)]
    public void Commit_ids_are_exactly_40_lowercase_hex_digits(string value, bool valid)
    {
        Assert.Equal(valid, HubCache.IsCommitHash(value));
        if (valid) Assert.Equal(value, HubCache.RequireCommit(value, "the test commit"));
        else Assert.Equal(ErrorCodes.InvalidCommitId, Assert.Throws<LmException>(() => HubCache.RequireCommit(value, "the test commit")).Code);
    }

    [Theory]
    [InlineData("main")]
    [InlineData("v1.0")]
    [InlineData("refs/pr/1")]
    [InlineData("feature/x-y_z")]
    [InlineData("0123456789abcdef0123456789abcdef01234567")]
    public void Branch_tag_and_commit_names_are_valid_revisions(string revision)
    {
        Assert.Equal(revision, HubCache.RequireRevision(revision));
    }

    [Theory]
    [InlineData("{victim}/planted.sh")]
    [InlineData("../planted.sh")]
    [InlineData("../../../victim/planted.sh")]
    [InlineData("shards/../../planted.sh")]
    [InlineData("C:planted.sh")]
    [InlineData("..\\planted.sh")]
    [InlineData("planted\u0000.sh")]
    public async Task Shard_name_in_a_downloaded_index_that_leaves_the_snapshot_is_refused(string shard)
    {
        const string sharded = "acme/sharded";
        string hostile = Expand(shard);
        _hub.AddFile(sharded, "config.json", "{}");
        _hub.AddFile(sharded, "model.safetensors.index.json",
            $"{{\"weight_map\": {{\"a\": \"model-00001-of-00002.safetensors\", \"b\": {System.Text.Json.JsonSerializer.Serialize(hostile)}}}}}");
        _hub.AddFile(sharded, "model-00001-of-00002.safetensors", new byte[] { 1, 2, 3 }, lfs: true);
        _hub.AddFile(sharded, hostile, Encoding.UTF8.GetBytes("#!/bin/sh\necho planted\n"), lfs: true);
        using var client = new HubClient(Settings());

        var error = await Assert.ThrowsAsync<LmException>(() => client.DownloadModelAsync(sharded, "main", CancellationToken.None));

        Assert.Equal(ErrorCodes.UnsafePathName, error.Code);
        Assert.Contains("model.safetensors.index.json", error.Message);
        // Refused before the first shard: only config.json and the index reached the cache.
        Assert.DoesNotContain(_hub.Requests, r => r.Path.Contains("safetensors", StringComparison.Ordinal) && !r.Path.EndsWith("index.json", StringComparison.Ordinal)
            && r.Path.Contains("-of-", StringComparison.Ordinal));
        Assert.Equal(2, Directory.GetFiles(Path.Combine(CacheDir, "models--acme--sharded", "blobs")).Length);
        AssertNothingOutsideTheCacheChanged();
    }

    [Theory]
    [InlineData("data/../../../../victim/planted.parquet")]
    [InlineData("{victim}/planted.parquet")]
    [InlineData("../planted.parquet")]
    [InlineData("data//planted.parquet")]
    public async Task Listing_path_that_leaves_the_snapshot_is_refused(string listed)
    {
        _hub.AddFile("datasets/acme/texts", "data/train-00000-of-00001.parquet", new byte[] { 1, 2, 3 }, lfs: true);
        _hub.ServeListing("datasets/acme/texts",
            "[{\"type\":\"file\",\"path\":\"data/train-00000-of-00001.parquet\",\"size\":3}," +
            $"{{\"type\":\"file\",\"path\":{System.Text.Json.JsonSerializer.Serialize(Expand(listed))},\"size\":3}}]");
        using var client = new HubClient(Settings(), HubRepoKind.Dataset);

        var error = await Assert.ThrowsAsync<LmException>(() => client.DownloadParquetFolderAsync("acme/texts", "main", "data", CancellationToken.None));

        Assert.Equal(ErrorCodes.UnsafePathName, error.Code);
        Assert.Contains(Expand(listed), error.Message);
        Assert.DoesNotContain(_hub.Requests, r => r.Path.Contains("/resolve/", StringComparison.Ordinal));
        Assert.Empty(Directory.GetFileSystemEntries(CacheDir));
        AssertNothingOutsideTheCacheChanged();
    }

    [Fact]
    public async Task Listing_entries_with_numbers_for_names_are_skipped_not_a_crash()
    {
        _hub.ServeListing("datasets/acme/texts", "[{\"type\":\"file\",\"path\":42}, {\"type\":7,\"path\":\"data/x.parquet\"}]");
        using var client = new HubClient(Settings(), HubRepoKind.Dataset);

        Assert.Null(await client.DownloadParquetFolderAsync("acme/texts", "main", "data", CancellationToken.None));
        AssertNothingOutsideTheCacheChanged();
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("../../../victim")]
    [InlineData("{victim}")]
    [InlineData("refs/../../x")]
    [InlineData("main/")]
    [InlineData(".hidden")]
    [InlineData("main\u0000")]
    [InlineData("a b")]
    [InlineData("")]
    public async Task Model_revision_that_is_no_branch_tag_or_commit_is_refused(string revision)
    {
        // A ref planted where '../x' would read it, naming the victim: the old lookup would have loaded it.
        File.WriteAllText(Path.Combine(_root, "x"), "../../../victim");
        string before = FolderDigest.Of(_root);

        foreach (var settings in new[] { Settings(), Settings(offline: true) })
        {
            var error = await Assert.ThrowsAsync<LmException>(() =>
                ModelLocator.ResolveAsync(Repo, Expand(revision), settings, null, CancellationToken.None));
            Assert.Equal(ErrorCodes.InvalidRevision, error.Code);
        }

        Assert.Empty(_hub.Requests);
        Assert.Equal(before, FolderDigest.Of(_root));
    }

    [Fact]
    public async Task Model_revision_is_refused_for_a_cache_folder_given_as_model_too()
    {
        Directory.CreateDirectory(Path.Combine(RepoFolder, "snapshots"));
        var error = await Assert.ThrowsAsync<LmException>(() =>
            ModelLocator.ResolveAsync(RepoFolder, "../../../../victim/x", Settings(offline: true), null, CancellationToken.None));
        Assert.Equal(ErrorCodes.InvalidRevision, error.Code);
        AssertNothingOutsideTheCacheChanged();
    }

    [Fact]
    public async Task Revision_with_slashes_such_as_a_pull_request_ref_is_stored_under_refs()
    {
        string online = await ModelLocator.ResolveAsync(Repo, "refs/pr/1", Settings(), null, CancellationToken.None);
        string offline = await ModelLocator.ResolveAsync(Repo, "refs/pr/1", Settings(offline: true), null, CancellationToken.None);

        Assert.Equal(online, offline);
        Assert.Equal(LoopbackHub.CommitFor(Repo), File.ReadAllText(Path.Combine(RepoFolder, "refs", "refs", "pr", "1")));
        Assert.Contains(_hub.Requests, r => r.Path == $"/{Repo}/resolve/refs/pr/1/config.json");
        AssertNothingOutsideTheCacheChanged();
    }

    [Theory]
    [InlineData("../../..")]
    [InlineData("../../../victim")]
    [InlineData("{victim}")]
    [InlineData("not a commit")]
    public async Task Ref_file_holding_anything_but_a_commit_is_refused(string content)
    {
        Directory.CreateDirectory(Path.Combine(RepoFolder, "refs"));
        File.WriteAllText(Path.Combine(RepoFolder, "refs", "main"), Expand(content));

        foreach (var settings in new[] { Settings(offline: true), Settings() })
        {
            var error = await Assert.ThrowsAsync<LmException>(() => ModelLocator.ResolveAsync(Repo, "main", settings, null, CancellationToken.None));
            Assert.Equal(ErrorCodes.InvalidCommitId, error.Code);
            Assert.Equal(Path.Combine(RepoFolder, "refs", "main"), error.File);
        }

        Assert.Empty(_hub.Requests);
        AssertNothingOutsideTheCacheChanged();
    }

    [Theory]
    [InlineData("../../..")]
    [InlineData("{victim}")]
    public void Dataset_ref_file_holding_anything_but_a_commit_is_refused(string content)
    {
        string repository = Path.Combine(CacheDir, "datasets--acme--texts");
        Directory.CreateDirectory(Path.Combine(repository, "snapshots", LoopbackHub.CommitFor("x"), "data"));
        Directory.CreateDirectory(Path.Combine(repository, "refs"));
        File.WriteAllText(Path.Combine(repository, "refs", "main"), Expand(content));

        var error = Assert.Throws<LmException>(() => HubDatasetCache.Resolve("acme/texts", "data", CacheDir));

        Assert.Equal(ErrorCodes.InvalidCommitId, error.Code);
        AssertNothingOutsideTheCacheChanged();
    }

    [Theory]
    [InlineData("../../../victim")]
    [InlineData("{victim}")]
    [InlineData("a/b")]
    public async Task Dataset_config_name_that_is_not_one_folder_name_is_refused(string config)
    {
        var error = Assert.Throws<LmException>(() => HubDatasetCache.Resolve("acme/texts", Expand(config), CacheDir));
        Assert.Equal(ErrorCodes.UnsafePathName, error.Code);

        var args = new DataArguments { DatasetName = "acme/texts", DatasetConfigName = Expand(config) };
        var viaLocator = await Assert.ThrowsAsync<LmException>(() => DatasetLocator.EnsureCachedAsync(args, Settings(), null, CancellationToken.None));
        Assert.Equal(ErrorCodes.UnsafePathName, viaLocator.Code);
        Assert.Empty(_hub.Requests);
        AssertNothingOutsideTheCacheChanged();
    }

    [Fact]
    public async Task A_snapshot_folder_that_is_a_link_out_of_the_cache_is_not_written_through()
    {
        Directory.CreateDirectory(Path.Combine(RepoFolder, "snapshots"));
        Directory.CreateSymbolicLink(Path.Combine(RepoFolder, "snapshots", LoopbackHub.CommitFor(Repo)), Victim);
        using var client = new HubClient(Settings());

        var error = await Assert.ThrowsAsync<LmException>(() => client.DownloadModelAsync(Repo, "main", CancellationToken.None));

        Assert.Equal(ErrorCodes.UnsafePathName, error.Code);
        Assert.Contains("symbolic link", error.Message);
        AssertNothingOutsideTheCacheChanged();
    }

    [Fact]
    public async Task A_blobs_folder_that_is_a_link_out_of_the_cache_is_not_written_through()
    {
        Directory.CreateDirectory(RepoFolder);
        Directory.CreateSymbolicLink(Path.Combine(RepoFolder, "blobs"), Victim);
        using var client = new HubClient(Settings());

        var error = await Assert.ThrowsAsync<LmException>(() => client.DownloadModelAsync(Repo, "main", CancellationToken.None));

        Assert.Equal(ErrorCodes.UnsafePathName, error.Code);
        AssertNothingOutsideTheCacheChanged();
    }

    [Theory]
    [InlineData("file:///tmp")]
    [InlineData("hub.example.test")]
    [InlineData("ftp://hub.example.test")]
    [InlineData("http://")]
    [InlineData("")]
    public void Endpoint_that_is_not_an_http_address_is_an_LM_error(string endpoint)
    {
        var error = Assert.Throws<LmException>(() => new HubClient(new HubSettings { Endpoint = endpoint, CacheDir = CacheDir }));
        Assert.Equal(ErrorCodes.InvalidHubEndpoint, error.Code);
    }

    [Theory]
    [InlineData("../../../victim/config.json", "0123")]
    [InlineData("config.json", "../../../victim/config.json")]
    [InlineData("config.json", "..")]
    public void Links_are_made_only_inside_the_snapshot_and_only_to_blobs(string fileName, string etag)
    {
        var cache = new HubCache(CacheDir);

        var error = Assert.Throws<LmException>(() => cache.LinkIntoSnapshot(Repo, LoopbackHub.CommitFor(Repo), fileName, etag));

        Assert.Equal(ErrorCodes.UnsafePathName, error.Code);
        Assert.Empty(Directory.GetFileSystemEntries(CacheDir));
        AssertNothingOutsideTheCacheChanged();
    }

    [Theory]
    [InlineData("http://hub.example.test")]
    [InlineData("http://10.1.2.3:8080")]
    [InlineData("http://[2001:db8::1]:8080")]
    [InlineData("http://localhost.example.test")]
    public async Task Token_is_never_sent_in_clear_text_to_a_host_that_is_not_loopback(string endpoint)
    {
        using var handler = new RecordingHandler();
        using var client = new HubClient(new HubSettings { Endpoint = endpoint, CacheDir = CacheDir, Token = "hf_secret" }, HubRepoKind.Model, handler);

        var error = await Assert.ThrowsAsync<LmException>(() => client.DownloadModelAsync(Repo, "main", CancellationToken.None));

        Assert.Equal(ErrorCodes.TokenOverPlainHttp, error.Code);
        Assert.Contains(endpoint, error.Message);
        Assert.DoesNotContain("hf_secret", error.Message);
        Assert.Empty(handler.Authorizations);
        Assert.Empty(Directory.GetFileSystemEntries(CacheDir));
        AssertNothingOutsideTheCacheChanged();
    }

    [Theory]
    [InlineData("http://localhost:8080", "Bearer hf_secret")]
    [InlineData("http://127.0.0.1", "Bearer hf_secret")]
    [InlineData("http://127.45.6.7:9", "Bearer hf_secret")]
    [InlineData("http://[::1]:8080", "Bearer hf_secret")]
    [InlineData("https://hub.example.test", "Bearer hf_secret")]
    public async Task Token_goes_over_https_or_to_loopback(string endpoint, string expected)
    {
        using var handler = new RecordingHandler();
        using var client = new HubClient(new HubSettings { Endpoint = endpoint, CacheDir = CacheDir, Token = "hf_secret" }, HubRepoKind.Model, handler);

        var error = await Assert.ThrowsAsync<LmException>(() => client.DownloadModelAsync(Repo, "main", CancellationToken.None));

        Assert.Equal(ErrorCodes.HubRepositoryNotFound, error.Code);
        Assert.Equal(new[] { expected }, handler.Authorizations);
    }

    [Fact]
    public async Task Plain_http_without_a_token_is_still_allowed()
    {
        using var handler = new RecordingHandler();
        using var client = new HubClient(new HubSettings { Endpoint = "http://hub.example.test", CacheDir = CacheDir }, HubRepoKind.Model, handler);

        var error = await Assert.ThrowsAsync<LmException>(() => client.DownloadModelAsync(Repo, "main", CancellationToken.None));

        Assert.Equal(ErrorCodes.HubRepositoryNotFound, error.Code);
        Assert.Equal(new[] { "(none)" }, handler.Authorizations);
    }

    [Theory]
    [InlineData("file:///etc/passwd")]
    [InlineData("ftp://cdn.example.test/blob")]
    public async Task Redirect_to_anything_but_http_is_refused(string location)
    {
        using var handler = new RecordingHandler(request =>
        {
            var response = new HttpResponseMessage(HttpStatusCode.Found);
            response.Headers.Add("X-Repo-Commit", LoopbackHub.CommitFor(Repo));
            response.Headers.Add("X-Linked-Etag", "\"" + LoopbackHub.Sha256([1]) + "\"");
            response.Headers.Add("X-Linked-Size", "1");
            response.Headers.Location = new Uri(location);
            return response;
        });
        using var client = new HubClient(new HubSettings { Endpoint = "https://hub.example.test", CacheDir = CacheDir }, HubRepoKind.Model, handler);

        var error = await Assert.ThrowsAsync<LmException>(() => client.DownloadModelAsync(Repo, "main", CancellationToken.None));

        Assert.Equal(ErrorCodes.HubDownloadFailed, error.Code);
        Assert.Contains(location, error.Message);
        Assert.Single(handler.Authorizations);
        AssertNothingOutsideTheCacheChanged();
    }

    /// <summary>
    /// Records the Authorization header of every request and answers with <c>respond</c>, by default as the hub does
    /// for an unknown repository.
    /// </summary>
    private sealed class RecordingHandler(Func<HttpRequestMessage, HttpResponseMessage>? respond = null) : HttpMessageHandler
    {
        public List<string> Authorizations { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Authorizations.Add(request.Headers.Authorization?.ToString() ?? "(none)");
            HttpResponseMessage response;
            if (respond is not null)
                response = respond(request);
            else
            {
                response = new HttpResponseMessage(HttpStatusCode.Unauthorized);
                response.Headers.Add("X-Error-Code", "RepoNotFound");
            }
            response.RequestMessage = request;
            return Task.FromResult(response);
        }
    }

    public void Dispose()
    {
        _hub.Dispose();
        Directory.Delete(_root, recursive: true);
    }
}
