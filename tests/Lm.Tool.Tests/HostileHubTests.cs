using Lm.Runtime.Tests.Hub;

namespace Lm.Tool.Tests;

/// <summary>
/// The built tool against a hostile hub and hostile flags: a coded error, one JSON object on stdout with
/// <c>--json</c>, and a victim folder beside the hub cache left exactly as it was.
/// </summary>
public sealed class HostileHubTests
{
    private const string Repo = "acme/tiny-gpt2";

    [Fact]
    public void A_hub_that_announces_a_path_as_its_commit_cannot_write_outside_the_cache()
    {
        using var hub = new LoopbackHub();
        foreach (string file in Directory.GetFiles(TinyModels.Gpt2))
        {
            string name = Path.GetFileName(file);
            hub.AddFile(Repo, name, File.ReadAllBytes(file), lfs: name.EndsWith(".safetensors", StringComparison.Ordinal));
        }
        using var work = new TempFolder();
        string victim = FolderDigest.CreateVictim(work["victim"]);
        string before = FolderDigest.Of(victim);
        hub.AnnounceCommit(Repo, victim);

        var result = LmTuneProcess.Run(["generate", "--model", Repo, "Hello", "--max-new-tokens", "3", "--json"],
            new Dictionary<string, string?> { ["HF_ENDPOINT"] = hub.Endpoint, ["HF_HOME"] = work["hf"] });

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Equal("LM0521", result.Json["error"]!["code"]!.GetValue<string>());
        Assert.Contains(victim, result.Json["error"]!["message"]!.GetValue<string>());
        Assert.Contains("error LM0521:", result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr);
        Assert.Equal(before, FolderDigest.Of(victim));
        // Beside the victim there is at most the hub home (the refused download wrote nothing, not even that).
        Assert.All(Directory.GetFileSystemEntries(work.Path), e => Assert.Contains(Path.GetFileName(e), new[] { "hf", "victim" }));
        Assert.False(Directory.Exists(Path.Combine(work["hf"], "hub", "models--acme--tiny-gpt2", "snapshots")));
    }

    [Fact]
    public void A_model_revision_that_climbs_out_of_the_cache_is_refused()
    {
        using var work = new TempFolder();
        var result = LmTuneProcess.Run(["generate", "--model", Repo, "--model-revision", "../x", "Hello", "--json"],
            new Dictionary<string, string?> { ["HF_HOME"] = work["hf"] });

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Equal("LM0522", result.Json["error"]!["code"]!.GetValue<string>());
        Assert.Empty(Directory.GetFileSystemEntries(work.Path));
    }

    [Fact]
    public void An_endpoint_that_is_not_an_http_address_is_a_coded_error()
    {
        using var work = new TempFolder();
        var result = LmTuneProcess.Run(["generate", "--model", Repo, "Hello", "--json"],
            new Dictionary<string, string?> { ["HF_ENDPOINT"] = "file:///etc", ["HF_HOME"] = work["hf"] });

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Equal("LM0524", result.Json["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public void A_token_is_not_sent_to_a_plain_http_hub_that_is_not_this_machine()
    {
        using var work = new TempFolder();
        var result = LmTuneProcess.Run(["generate", "--model", Repo, "Hello", "--json"],
            new Dictionary<string, string?> { ["HF_ENDPOINT"] = "http://hub.example.test", ["HF_TOKEN"] = "hf_secret", ["HF_HOME"] = work["hf"] });

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Equal("LM0523", result.Json["error"]!["code"]!.GetValue<string>());
        Assert.DoesNotContain("hf_secret", result.Stdout + result.Stderr);
    }
}
