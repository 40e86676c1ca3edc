using Lm.Runtime.Tests.Hub;

namespace Lm.Tool.Tests;

public sealed class HubDownloadTests
{
    [Fact]
    public void Hub_id_is_downloaded_into_the_cache_then_used_offline()
    {
        using var hub = new LoopbackHub();
        ServeTinyGpt2(hub);
        hub.CutNextTransfer("model.safetensors", 100_000);
        using var home = new TempFolder();
        var online = new Dictionary<string, string?> { ["HF_ENDPOINT"] = hub.Endpoint, ["HF_HOME"] = home.Path };

        var first = LmTuneProcess.Run(["generate", "--model", "acme/tiny-gpt2", "Hello", "--max-new-tokens", "3", "--json"], online);

        Assert.True(first.ExitCode == 0, first.ToString());
        string snapshot = Path.Combine(home.Path, "hub", "models--acme--tiny-gpt2", "snapshots", LoopbackHub.CommitFor("acme/tiny-gpt2"));
        Assert.Equal(File.ReadAllBytes(Path.Combine(TinyModels.Gpt2, "model.safetensors")), File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
        Assert.Contains(hub.Requests, r => r.Range == "bytes=100000-");

        int requests = hub.Requests.Count;
        var offline = new Dictionary<string, string?> { ["HF_ENDPOINT"] = hub.Endpoint, ["HF_HOME"] = home.Path, ["HF_HUB_OFFLINE"] = "1" };
        var second = LmTuneProcess.Run(["generate", "--model", "acme/tiny-gpt2", "Hello", "--max-new-tokens", "3", "--json"], offline);
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Equal(first.Json["new_token_ids"]!.ToJsonString(), second.Json["new_token_ids"]!.ToJsonString());
        Assert.Equal(requests, hub.Requests.Count);
    }

    [Fact]
    public void Corrupted_download_is_an_LM_error_and_leaves_no_blob()
    {
        using var hub = new LoopbackHub();
        ServeTinyGpt2(hub);
        byte[] corrupted = File.ReadAllBytes(Path.Combine(TinyModels.Gpt2, "model.safetensors"));
        corrupted[^1] ^= 0x55;
        hub.ServeCorrupted("model.safetensors", corrupted);
        using var home = new TempFolder();

        var result = LmTuneProcess.Run(["generate", "--model", "acme/tiny-gpt2", "Hello"],
            new Dictionary<string, string?> { ["HF_ENDPOINT"] = hub.Endpoint, ["HF_HOME"] = home.Path });

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("error LM0505:", result.Stderr);
        string blobs = Path.Combine(home.Path, "hub", "models--acme--tiny-gpt2", "blobs");
        Assert.DoesNotContain(Directory.GetFiles(blobs), f => new FileInfo(f).Length == corrupted.Length);
    }

    /// <summary>Puts the tiny GPT-2 folder on the hub as <c>acme/tiny-gpt2</c>, weights as an LFS file.</summary>
    private static void ServeTinyGpt2(LoopbackHub hub)
    {
        foreach (string file in Directory.GetFiles(TinyModels.Gpt2))
        {
            string name = Path.GetFileName(file);
            hub.AddFile("acme/tiny-gpt2", name, File.ReadAllBytes(file), lfs: name.EndsWith(".safetensors", StringComparison.Ordinal));
        }
    }
}
