using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Lm.Runtime.Errors;
using Lm.Runtime.Hub;

namespace Lm.Runtime.Tests.Hub;

/// <summary>
/// Pushing as huggingface_hub does, against the loopback hub: create_repo, the preupload check, the LFS batch API and
/// the NDJSON commit, with the expected lines computed here from the bytes (base64, sha256, git blob sha1).
/// </summary>
public sealed class HubUploaderTests : IDisposable
{
    private const string Token = "hf_uploader_test_secret_0123456789";
    private readonly LoopbackHub _hub = new();
    private readonly string _folder = Directory.CreateTempSubdirectory("lm-push-").FullName;
    private readonly string _cache = Directory.CreateTempSubdirectory("lm-push-cache-").FullName;
    private readonly byte[] _weights = Enumerable.Range(0, 70_000).Select(i => (byte)(i * 7 % 253)).ToArray();
    private readonly byte[] _config = Encoding.UTF8.GetBytes("{\"model_type\": \"gpt2\"}\n");

    public HubUploaderTests()
    {
        _hub.AddUser(Token, "alice", "acme");
        File.WriteAllBytes(Path.Combine(_folder, "config.json"), _config);
        File.WriteAllBytes(Path.Combine(_folder, "model.safetensors"), _weights);
    }

    private HubSettings Settings(string? endpoint = null) => new() { Endpoint = endpoint ?? _hub.Endpoint, CacheDir = _cache };

    private static string Base64(byte[] bytes) => Convert.ToBase64String(bytes);

    [Fact]
    public async Task A_folder_is_committed_with_regular_files_inline_and_LFS_files_uploaded_then_served()
    {
        using var uploader = new HubUploader(Settings(), Token);
        string repo = await uploader.CreateRepoAsync("acme/pushed", isPrivate: true, CancellationToken.None);
        var commit = await uploader.CommitAsync(repo, "main", HubFolderFilter.Files(_folder, []), "End of training", CancellationToken.None);

        Assert.Equal("acme/pushed", repo);
        Assert.True(_hub.IsPrivate("acme/pushed"));
        var recorded = Assert.Single(_hub.Commits);
        Assert.Equal(recorded.Oid, commit!.Oid);
        Assert.Equal(["config.json", "model.safetensors"], commit.Files);
        Assert.Equal(
        [
            "{\"key\":\"header\",\"value\":{\"summary\":\"End of training\",\"description\":\"\"}}",
            $"{{\"key\":\"file\",\"value\":{{\"content\":\"{Base64(_config)}\",\"path\":\"config.json\",\"encoding\":\"base64\"}}}}",
            $"{{\"key\":\"lfsFile\",\"value\":{{\"path\":\"model.safetensors\",\"algo\":\"sha256\",\"oid\":\"{Convert.ToHexStringLower(SHA256.HashData(_weights))}\",\"size\":70000}}}}",
        ], recorded.Lines);

        // The order huggingface_hub keeps: create, preupload, LFS batch, storage PUT (no token: another host), verify, commit.
        var requests = _hub.Requests.ToList();
        Assert.Equal(["POST /api/repos/create", "POST /api/models/acme/pushed/preupload/main", "POST /acme/pushed.git/info/lfs/objects/batch",
                "PUT /lfs-upload/" + LoopbackHub.Sha256(_weights), "POST /lfs-verify/" + LoopbackHub.Sha256(_weights), "POST /api/models/acme/pushed/commit/main"],
            requests.Select(r => $"{r.Method} {r.Path}"));
        var put = requests.Single(r => r.Method == "PUT");
        Assert.Equal("localhost", put.Host);
        Assert.Null(put.Authorization);
        Assert.All(requests.Where(r => r.Method != "PUT"), r => Assert.Equal("Bearer " + Token, r.Authorization));

        // What was committed downloads as the hub serves any model.
        using var client = new HubClient(Settings());
        var weights = await client.DownloadFileAsync(repo, "main", "model.safetensors", CancellationToken.None);
        var config = await client.DownloadFileAsync(repo, "main", "config.json", CancellationToken.None);
        Assert.Equal(_weights, File.ReadAllBytes(weights!.Path));
        Assert.Equal(_config, File.ReadAllBytes(config!.Path));
        Assert.Equal(commit.Oid, weights.Commit);
    }

    [Fact]
    public async Task Unchanged_files_are_left_out_and_a_commit_with_nothing_changed_is_not_made()
    {
        using var uploader = new HubUploader(Settings(), Token);
        string repo = await uploader.CreateRepoAsync("acme/again", null, CancellationToken.None);
        await uploader.CommitAsync(repo, "main", HubFolderFilter.Files(_folder, []), "first", CancellationToken.None);
        int before = _hub.Requests.Count;

        var nothing = await uploader.CommitAsync(repo, "main", HubFolderFilter.Files(_folder, []), "second", CancellationToken.None);
        Assert.Null(nothing);
        Assert.Equal(["POST /api/models/acme/again/preupload/main"], _hub.Requests.Skip(before).Select(r => $"{r.Method} {r.Path}"));

        byte[] changed = Encoding.UTF8.GetBytes("{\"model_type\": \"gpt2\", \"n_embd\": 8}\n");
        File.WriteAllBytes(Path.Combine(_folder, "config.json"), changed);
        before = _hub.Requests.Count;
        var third = await uploader.CommitAsync(repo, "main", HubFolderFilter.Files(_folder, []), "third", CancellationToken.None);
        Assert.Equal(["config.json"], third!.Files);
        Assert.Equal(2, _hub.Commits.Count);
        Assert.Equal(2, _hub.Commits.Last().Lines.Count);
        Assert.DoesNotContain(_hub.Requests.Skip(before), r => r.Path.Contains("lfs", StringComparison.Ordinal));
        Assert.Equal(changed, _hub.FilesOf(repo)["config.json"].Content);
        Assert.Equal(_weights, _hub.FilesOf(repo)["model.safetensors"].Content);
    }

    [Fact]
    public async Task A_bare_name_is_created_under_the_token_user_and_an_existing_repository_is_reused()
    {
        using var uploader = new HubUploader(Settings(), Token);
        Assert.Equal("alice/my-run", await uploader.CreateRepoAsync("my-run", null, CancellationToken.None));
        Assert.Equal("alice/my-run", await uploader.CreateRepoAsync("my-run", null, CancellationToken.None));
        Assert.False(_hub.IsPrivate("alice/my-run"));
    }

    [Fact]
    public async Task A_403_on_creating_an_existing_repository_goes_on_as_create_repo_with_exist_ok_does()
    {
        using var uploader = new HubUploader(Settings(), Token);
        Assert.Equal("acme/shared", await uploader.CreateRepoAsync("acme/shared", null, CancellationToken.None));
        // A fine-grained token that may write to acme/shared but not create repositories under acme.
        _hub.FailNext("/api/repos/create", 403, "You don't have the rights to create a model under the namespace \"acme\"");
        Assert.Equal("acme/shared", await uploader.CreateRepoAsync("acme/shared", null, CancellationToken.None));
        Assert.NotNull(await uploader.CommitAsync("acme/shared", "main", HubFolderFilter.Files(_folder, []), "End of training", CancellationToken.None));
    }

    [Theory]
    [InlineData("/api/repos/create", 401, "LM0541", "Invalid credentials in Authorization header")]
    [InlineData("/api/repos/create", 403, "LM0542", "You don't have the rights to create a model under the namespace \"acme\"")]
    [InlineData("/preupload/", 404, "LM0543", "Repository not found")]
    [InlineData("/commit/", 409, "LM0544", "A commit has happened since. Please refresh and try again.")]
    [InlineData("/commit/", 500, "LM0540", "Internal Error - We're working hard to fix this as soon as possible!")]
    [InlineData("/info/lfs/objects/batch", 503, "LM0540", "Service Unavailable")]
    public async Task The_hubs_refusals_are_LM_errors_with_its_message_and_never_the_token(string path, int status, string code, string message)
    {
        _hub.FailNext(path, status, message);
        using var uploader = new HubUploader(Settings(), Token);

        var e = await Assert.ThrowsAsync<LmException>(async () =>
        {
            string repo = await uploader.CreateRepoAsync("acme/refused", null, CancellationToken.None);
            await uploader.CommitAsync(repo, "main", HubFolderFilter.Files(_folder, []), "End of training", CancellationToken.None);
        });

        Assert.Equal(code, e.Code);
        Assert.Contains($"the hub answered {status}", e.Message);
        Assert.Contains(message, e.Message);
        Assert.DoesNotContain(Token, e.Message);
        Assert.Empty(_hub.Commits);
    }

    [Fact]
    public async Task A_token_is_not_sent_over_plain_http_to_another_machine()
    {
        using var uploader = new HubUploader(Settings("http://hub.example.invalid:81"), Token);
        var e = await Assert.ThrowsAsync<LmException>(() => uploader.CreateRepoAsync("acme/x", null, CancellationToken.None));
        Assert.Equal(ErrorCodes.TokenOverPlainHttp, e.Code);
        Assert.DoesNotContain(Token, e.Message);
    }

    [Theory]
    [InlineData("acme/bad name")]
    [InlineData("a/b/c")]
    [InlineData("acme/-dash")]
    [InlineData("acme/x..y")]
    [InlineData("acme/model.git")]
    public async Task A_repository_id_the_hub_would_refuse_is_LM0546_before_any_request(string repoId)
    {
        using var uploader = new HubUploader(Settings(), Token);
        var e = await Assert.ThrowsAsync<LmException>(() => uploader.CreateRepoAsync(repoId, null, CancellationToken.None));
        Assert.Equal(ErrorCodes.InvalidHubModelId, e.Code);
        Assert.Empty(_hub.Requests);
    }

    [Theory]
    [InlineData("checkpoint-5/model.safetensors", "checkpoint-*", true)]
    [InlineData("checkpoint-5", "checkpoint-*", true)]
    [InlineData("last-checkpoint/x", "checkpoint-*", false)]
    [InlineData("_internal.json", "_*", true)]
    [InlineData("runs/Dec07/events.out.tfevents.1", "_*", false)]
    [InlineData("runs/_x", "_*", false)]
    [InlineData("a/b.txt", "a/", true)]
    [InlineData("model-1.bin", "model-[0-9].bin", true)]
    [InlineData("model-x.bin", "model-[!0-9].bin", true)]
    [InlineData(".git/config", "**/.git/**", false)]
    [InlineData("x/sub/.git/config", "**/.git/**", true)]
    public void Ignore_patterns_match_as_fnmatch(string path, string pattern, bool expected) =>
        Assert.Equal(expected, HubFolderFilter.Matches(path, pattern));

    [Fact]
    public void Folder_files_leave_out_ignored_and_git_files_and_sort_as_pathlib()
    {
        Directory.CreateDirectory(Path.Combine(_folder, "checkpoint-2"));
        File.WriteAllText(Path.Combine(_folder, "checkpoint-2", "model.safetensors"), "x");
        Directory.CreateDirectory(Path.Combine(_folder, ".git"));
        File.WriteAllText(Path.Combine(_folder, ".git", "HEAD"), "x");
        Directory.CreateDirectory(Path.Combine(_folder, "a"));
        File.WriteAllText(Path.Combine(_folder, "a", "b"), "x");
        File.WriteAllText(Path.Combine(_folder, "a-c"), "x");
        File.WriteAllText(Path.Combine(_folder, "_hidden"), "x");

        var files = HubFolderFilter.Files(_folder, ["_*", "checkpoint-*"], "sub");

        Assert.Equal(["sub/a/b", "sub/a-c", "sub/config.json", "sub/model.safetensors"], files.Select(f => f.PathInRepo));
    }

    public void Dispose()
    {
        _hub.Dispose();
        Directory.Delete(_folder, recursive: true);
        Directory.Delete(_cache, recursive: true);
    }
}
