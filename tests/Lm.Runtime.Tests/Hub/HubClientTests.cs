using System.Text;
using Lm.Runtime.Data;
using Lm.Runtime.Errors;
using Lm.Runtime.Hub;

namespace Lm.Runtime.Tests.Hub;

public sealed class HubClientTests : IDisposable
{
    private const string Repo = "acme/tiny-model";
    private readonly LoopbackHub _hub = new();
    private readonly string _cache = Directory.CreateTempSubdirectory("lm-hub-").FullName;
    private readonly byte[] _weights = Enumerable.Range(0, 100_000).Select(i => (byte)(i * 31 % 251)).ToArray();

    public HubClientTests()
    {
        _hub.AddFile(Repo, "config.json", "{\"model_type\": \"gpt2\"}");
        _hub.AddFile(Repo, "model.safetensors", _weights, lfs: true);
        _hub.AddFile(Repo, "vocab.json", "{\"a\": 0}");
        _hub.AddFile(Repo, "merges.txt", "#version: 0.2\n");
    }

    private HubSettings Settings(bool offline = false, string? token = null) =>
        new() { Endpoint = _hub.Endpoint, CacheDir = _cache, Offline = offline, Token = token };

    private string RepoFolder => Path.Combine(_cache, "models--acme--tiny-model");

    private static string Commit => LoopbackHub.CommitFor(Repo);

    [Fact]
    public async Task Download_lays_files_out_as_the_hub_cache_blobs_snapshots_and_refs()
    {
        using var client = new HubClient(Settings());
        string snapshot = await client.DownloadModelAsync(Repo, "main", CancellationToken.None);

        Assert.Equal(Path.Combine(RepoFolder, "snapshots", Commit), snapshot);
        Assert.Equal(Commit, File.ReadAllText(Path.Combine(RepoFolder, "refs", "main")));
        string weightsLink = Path.Combine(snapshot, "model.safetensors");
        Assert.Equal(Path.Combine("..", "..", "blobs", LoopbackHub.Sha256(_weights)), new FileInfo(weightsLink).LinkTarget);
        Assert.Equal(_weights, File.ReadAllBytes(weightsLink));
        byte[] config = Encoding.UTF8.GetBytes("{\"model_type\": \"gpt2\"}");
        Assert.Equal(config, File.ReadAllBytes(Path.Combine(RepoFolder, "blobs", LoopbackHub.GitBlobSha1(config))));
        Assert.Equal("#version: 0.2\n", File.ReadAllText(Path.Combine(snapshot, "merges.txt")));
        Assert.False(File.Exists(Path.Combine(snapshot, "vocab.txt")));
        Assert.True(File.Exists(Path.Combine(RepoFolder, ".no_exist", Commit, "vocab.txt")));
        Assert.Empty(Directory.GetFiles(Path.Combine(RepoFolder, "blobs"), "*.incomplete"));
    }

    [Fact]
    public async Task Second_download_reuses_cached_blobs_without_transferring_them()
    {
        using (var client = new HubClient(Settings()))
            await client.DownloadModelAsync(Repo, "main", CancellationToken.None);
        int before = _hub.Requests.Count;
        using (var client = new HubClient(Settings()))
            await client.DownloadModelAsync(Repo, "main", CancellationToken.None);

        var second = _hub.Requests.Skip(before).ToList();
        Assert.NotEmpty(second);
        Assert.All(second, r => Assert.Equal("HEAD", r.Method));
    }

    [Fact]
    public async Task Interrupted_transfer_resumes_with_a_range_request()
    {
        _hub.CutNextTransfer("model.safetensors", 30_000);
        using var client = new HubClient(Settings());
        string snapshot = await client.DownloadModelAsync(Repo, "main", CancellationToken.None);

        Assert.Equal(_weights, File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
        var transfers = _hub.Requests.Where(r => r.Method == "GET" && r.Path.StartsWith("/cdn/", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, transfers.Count);
        Assert.Null(transfers[0].Range);
        Assert.Equal(30_000, transfers[0].BytesSent);
        Assert.Equal("bytes=30000-", transfers[1].Range);
        Assert.Equal(70_000, transfers[1].BytesSent);
    }

    [Fact]
    public async Task Partial_file_left_by_an_earlier_run_is_resumed_not_restarted()
    {
        string blobs = Path.Combine(RepoFolder, "blobs");
        Directory.CreateDirectory(blobs);
        File.WriteAllBytes(Path.Combine(blobs, LoopbackHub.Sha256(_weights) + ".incomplete"), _weights[..12_345]);

        using var client = new HubClient(Settings());
        string snapshot = await client.DownloadModelAsync(Repo, "main", CancellationToken.None);

        Assert.Equal(_weights, File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
        var transfer = Assert.Single(_hub.Requests, r => r.Method == "GET" && r.Path.StartsWith("/cdn/", StringComparison.Ordinal));
        Assert.Equal("bytes=12345-", transfer.Range);
        Assert.Equal(_weights.Length - 12_345, transfer.BytesSent);
    }

    [Fact]
    public async Task Corrupted_blob_is_rejected_and_nothing_is_left_that_looks_valid()
    {
        byte[] wrong = (byte[])_weights.Clone();
        wrong[500] ^= 0xFF;
        _hub.ServeCorrupted("model.safetensors", wrong);
        using var client = new HubClient(Settings());

        var error = await Assert.ThrowsAsync<LmException>(() => client.DownloadModelAsync(Repo, "main", CancellationToken.None));

        Assert.Equal(ErrorCodes.HubChecksumMismatch, error.Code);
        Assert.Contains("model.safetensors", error.Message);
        Assert.Equal(new[] { LoopbackHub.GitBlobSha1(Encoding.UTF8.GetBytes("{\"model_type\": \"gpt2\"}")) },
            Directory.GetFiles(Path.Combine(RepoFolder, "blobs")).Select(Path.GetFileName));
        Assert.False(File.Exists(Path.Combine(RepoFolder, "snapshots", Commit, "model.safetensors")));
    }

    [Fact]
    public async Task A_server_sending_more_than_it_announced_is_cut_off_at_the_announced_size()
    {
        // The hub announced _weights.Length bytes (X-Linked-Size); a hostile one streams 64 times that.
        byte[] flood = new byte[_weights.Length * 64];
        _hub.ServeCorrupted("model.safetensors", flood);
        using var client = new HubClient(Settings());

        var error = await Assert.ThrowsAsync<LmException>(() => client.DownloadModelAsync(Repo, "main", CancellationToken.None));

        Assert.Equal(ErrorCodes.HubChecksumMismatch, error.Code);
        Assert.Contains($"more than the {_weights.Length:N0} bytes it announced", error.Message);
        Assert.DoesNotContain(Directory.GetFiles(Path.Combine(RepoFolder, "blobs")), f => new FileInfo(f).Length > _weights.Length);
        Assert.False(File.Exists(Path.Combine(RepoFolder, "snapshots", Commit, "model.safetensors")));
    }

    [Fact]
    public async Task Corrupted_regular_file_fails_its_git_blob_sha1()
    {
        _hub.ServeCorrupted("config.json", Encoding.UTF8.GetBytes("{\"model_type\": \"bert\"}"));
        using var client = new HubClient(Settings());

        var error = await Assert.ThrowsAsync<LmException>(() => client.DownloadModelAsync(Repo, "main", CancellationToken.None));

        Assert.Equal(ErrorCodes.HubChecksumMismatch, error.Code);
        Assert.Contains("git blob sha1", error.Message);
    }

    [Fact]
    public async Task Token_goes_to_the_hub_but_not_to_the_cdn()
    {
        using var client = new HubClient(Settings(token: "hf_secret"));
        await client.DownloadModelAsync(Repo, "main", CancellationToken.None);

        Assert.All(_hub.Requests.Where(r => r.Host == "127.0.0.1"), r => Assert.Equal("Bearer hf_secret", r.Authorization));
        var cdn = _hub.Requests.Where(r => r.Host == "localhost").ToList();
        Assert.NotEmpty(cdn);
        Assert.All(cdn, r => Assert.Null(r.Authorization));
    }

    [Fact]
    public async Task Sharded_weights_download_the_index_and_every_shard()
    {
        const string sharded = "acme/sharded";
        _hub.AddFile(sharded, "config.json", "{}");
        _hub.AddFile(sharded, "model.safetensors.index.json",
            "{\"metadata\": {}, \"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\", \"b\": \"model-00002-of-00002.safetensors\", \"c\": \"model-00001-of-00002.safetensors\"}}");
        _hub.AddFile(sharded, "model-00001-of-00002.safetensors", new byte[] { 1, 2, 3 }, lfs: true);
        _hub.AddFile(sharded, "model-00002-of-00002.safetensors", new byte[] { 4, 5 }, lfs: true);
        using var client = new HubClient(Settings());

        string snapshot = await client.DownloadModelAsync(sharded, "main", CancellationToken.None);

        Assert.Equal(new byte[] { 1, 2, 3 }, File.ReadAllBytes(Path.Combine(snapshot, "model-00001-of-00002.safetensors")));
        Assert.Equal(new byte[] { 4, 5 }, File.ReadAllBytes(Path.Combine(snapshot, "model-00002-of-00002.safetensors")));
    }

    [Fact]
    public async Task Unknown_repository_is_an_LM_error()
    {
        using var client = new HubClient(Settings());
        var error = await Assert.ThrowsAsync<LmException>(() => client.DownloadModelAsync("acme/nothing-here", "main", CancellationToken.None));
        Assert.Equal(ErrorCodes.HubRepositoryNotFound, error.Code);
    }

    [Fact]
    public async Task Repository_without_safetensors_weights_is_an_LM_error()
    {
        _hub.AddFile("acme/bin-only", "config.json", "{}");
        _hub.AddFile("acme/bin-only", "pytorch_model.bin", new byte[] { 1 }, lfs: true);
        using var client = new HubClient(Settings());
        var error = await Assert.ThrowsAsync<LmException>(() => client.DownloadModelAsync("acme/bin-only", "main", CancellationToken.None));
        Assert.Equal(ErrorCodes.HubFileMissing, error.Code);
        Assert.Contains("pytorch_model.bin", error.Message);
    }

    [Fact]
    public async Task Offline_resolution_uses_the_cache_and_fails_clearly_without_it()
    {
        var offline = Settings(offline: true);
        var missing = await Assert.ThrowsAsync<LmException>(() => ModelLocator.ResolveAsync(Repo, "main", offline, null, CancellationToken.None));
        Assert.Equal(ErrorCodes.ModelNotFound, missing.Code);
        Assert.Contains("HF_HUB_OFFLINE", missing.Message);

        string online = await ModelLocator.ResolveAsync(Repo, "main", Settings(), null, CancellationToken.None);
        int requests = _hub.Requests.Count;
        string cached = await ModelLocator.ResolveAsync(Repo, "main", offline, null, CancellationToken.None);

        Assert.Equal(online, cached);
        Assert.Equal(requests, _hub.Requests.Count);
    }

    [Fact]
    public async Task Unreachable_hub_falls_back_to_the_cached_snapshot()
    {
        string online = await ModelLocator.ResolveAsync(Repo, "main", Settings(), null, CancellationToken.None);
        var unreachable = Settings() with { Endpoint = "http://127.0.0.1:1" };
        string cached = await ModelLocator.ResolveAsync(Repo, "main", unreachable, null, CancellationToken.None);
        Assert.Equal(online, cached);
    }

    [Fact]
    public async Task Dataset_config_is_downloaded_into_the_cache_where_the_data_pipeline_finds_it()
    {
        string shards = Directory.CreateTempSubdirectory("lm-parquet-").FullName;
        try
        {
            await Data.ParquetFiles.Write(Path.Combine(shards, "train.parquet"), ("text", [[" Hello\n", ""], [" World\n"]]));
            await Data.ParquetFiles.Write(Path.Combine(shards, "validation.parquet"), ("text", [[" Valid\n"]]));
            _hub.AddFile("datasets/Salesforce/wikitext", "wikitext-2-raw-v1/train-00000-of-00001.parquet", File.ReadAllBytes(Path.Combine(shards, "train.parquet")), lfs: true);
            _hub.AddFile("datasets/Salesforce/wikitext", "wikitext-2-raw-v1/validation-00000-of-00001.parquet", File.ReadAllBytes(Path.Combine(shards, "validation.parquet")), lfs: true);
            _hub.AddFile("datasets/Salesforce/wikitext", "wikitext-2-raw-v1/test-00000-of-00001.parquet", File.ReadAllBytes(Path.Combine(shards, "validation.parquet")), lfs: true);
            _hub.AddFile("datasets/Salesforce/wikitext", "wikitext-2-v1/train-00000-of-00001.parquet", new byte[] { 1 }, lfs: true);
            var args = new Lm.Runtime.Data.DataArguments { DatasetName = "wikitext", DatasetConfigName = "wikitext-2-raw-v1" };

            await DatasetLocator.EnsureCachedAsync(args, Settings(), null, CancellationToken.None);

            var splits = Lm.Runtime.Data.HubDatasetCache.Resolve("wikitext", "wikitext-2-raw-v1", _cache);
            Assert.Equal(new[] { " Hello\n", "", " World\n" }, splits.Train!.ReadRows());
            Assert.Equal(new[] { " Valid\n" }, splits.Validation!.ReadRows());
            Assert.DoesNotContain(_hub.Requests, r => r.Path.Contains("wikitext-2-v1/", StringComparison.Ordinal));
            Assert.DoesNotContain(_hub.Requests, r => r.Path.StartsWith("/api/", StringComparison.Ordinal));
            int requests = _hub.Requests.Count;
            await DatasetLocator.EnsureCachedAsync(args, Settings(offline: true), null, CancellationToken.None);
            Assert.Equal(requests, _hub.Requests.Count);
        }
        finally
        {
            Directory.Delete(shards, recursive: true);
        }
    }

    [Fact]
    public async Task Other_datasets_are_listed_by_the_tree_api_and_their_parquet_files_downloaded()
    {
        _hub.AddFile("datasets/acme/texts", "data/train-00000-of-00001.parquet", new byte[] { 1, 2, 3 }, lfs: true);
        _hub.AddFile("datasets/acme/texts", "data/README.md", "not data");
        _hub.AddFile("datasets/acme/texts", "other/train-00000-of-00001.parquet", new byte[] { 9 }, lfs: true);
        using var client = new HubClient(Settings(), HubRepoKind.Dataset);

        string? snapshot = await client.DownloadParquetFolderAsync("acme/texts", "main", "data", CancellationToken.None);

        Assert.Equal(Path.Combine(_cache, "datasets--acme--texts", "snapshots", LoopbackHub.CommitFor("datasets/acme/texts")), snapshot);
        Assert.Equal(new byte[] { 1, 2, 3 }, File.ReadAllBytes(Path.Combine(snapshot!, "data", "train-00000-of-00001.parquet")));
        Assert.False(File.Exists(Path.Combine(snapshot!, "data", "README.md")));
        Assert.False(Directory.Exists(Path.Combine(snapshot!, "other")));
        Assert.Null(await client.DownloadParquetFolderAsync("acme/texts", "main", "missing", CancellationToken.None));
    }

    [Theory]
    [InlineData("gpt2", true)]
    [InlineData("distilbert/distilgpt2", true)]
    [InlineData("FacebookAI/roberta-base", true)]
    [InlineData("a/b/c", false)]
    [InlineData("./model", false)]
    [InlineData("org--name", false)]
    [InlineData("/abs/path", false)]
    [InlineData("name.", false)]
    [InlineData("gpt2\n", false)]
    public void Repo_ids_are_validated_as_the_hub_does(string value, bool valid)
    {
        Assert.Equal(valid, HubCache.IsRepoId(value));
    }

    public void Dispose()
    {
        _hub.Dispose();
        Directory.Delete(_cache, recursive: true);
    }
}
