namespace Lm.Tool.Tests;

public sealed class DoctorTests
{
    [Fact]
    public void Doctor_reports_platform_libtorch_cuda_threads_and_caches()
    {
        var result = LmTuneProcess.Run("doctor");

        Assert.True(result.ExitCode == 0, result.ToString());
        string[] names = result.Stdout.Split('\n').Select(l => l.Split("  ")[0].Trim()).ToArray();
        Assert.Equal(new[] { "lm-tune", "os", ".NET", "cores" }, names[..4]);
        Assert.Contains("libtorch", names);
        Assert.Contains("cuda", names);
        Assert.Contains("threads", names);
        Assert.Contains("hub cache", names);
        Assert.Contains("TorchSharp ready", result.Stdout);
        // docs/cli.md's "Platforms and CUDA" lines.
        Assert.Contains("cuda           not available: this lm-tune carries the CPU libtorch backend; what a CUDA run needs is listed below", result.Stdout);
        Assert.Contains("               needs a CUDA libtorch: this lm-tune carries libtorch-cpu-linux-x64 2.10.0; build lm-tune from source with -p:LmTorchBackend=cuda against a feed that has TorchSharp-cuda-linux 0.107.0 (libtorch-cuda-12.8-linux-x64 2.10.0), ", result.Stdout);
    }

    [Fact]
    public void Doctor_json_is_one_object_with_the_documented_keys()
    {
        var result = LmTuneProcess.Run("doctor", "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        var json = result.Json;
        foreach (string key in new[] { "version", "os", "architecture", "dotnet", "processor_count", "caches", "torch", "cuda" })
            Assert.True(json.ContainsKey(key), key);
        Assert.True(json["torch"]!["loaded"]!.GetValue<bool>());
        Assert.False(json["cuda"]!["available"]!.GetValue<bool>());
        Assert.False(string.IsNullOrEmpty(json["cuda"]!["reason"]!.GetValue<string>()));
        // The packaged tool is the CPU build: what a CUDA run needs is listed, the driver and GPU as this machine has them.
        var missing = json["cuda"]!["missing"]!.AsArray().Select(m => m!.GetValue<string>()).ToList();
        Assert.StartsWith("a CUDA libtorch: this lm-tune carries libtorch-cpu-linux-x64 2.10.0", missing[0]);
        bool driver = File.Exists("/proc/driver/nvidia/version");
        Assert.Equal(!driver, missing.Any(m => m.StartsWith("an NVIDIA driver: none is loaded", StringComparison.Ordinal)));
        Assert.Equal(driver ? File.ReadLines("/proc/driver/nvidia/version").First().Trim() : null, json["cuda"]!["driver"]?.GetValue<string>());
        Assert.EndsWith("hub", json["caches"]!["hub_cache"]!.GetValue<string>());
    }

    [Fact]
    public void Commands_run_where_large_buffers_come_from_the_heap()
    {
        // The command thread is the main thread, the one glibc arena that can hold a batch's logits.
        var result = LmTuneProcess.Run("doctor", "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.True(result.Json["torch"]!["large_buffers_from_heap"]!.GetValue<bool>());
        Assert.Contains(result.Json["torch"]!["trace"]!.AsArray(), l => l!.GetValue<string>().StartsWith("heap: large buffers kept in the heap"));
    }

    [Fact]
    public void A_cached_patched_bridge_that_was_changed_is_written_again_before_it_is_loaded()
    {
        // On systems whose libstdc++ lacks a symbol version the bridge asks for (Debian 12, Ubuntu 22.04), lm-tune
        // loads a patched copy from its cache. Nothing but that exact patch may be loaded from there.
        using var work = new TempFolder();
        var cache = new Dictionary<string, string?> { ["LM_TUNE_CACHE"] = work.Path };
        var first = LmTuneProcess.Run(["doctor", "--json"], cache);
        Assert.True(first.ExitCode == 0, first.ToString());
        string[] copies = Directory.Exists(Path.Combine(work.Path, "native"))
            ? Directory.GetFiles(Path.Combine(work.Path, "native"), "libLibTorchSharp.so", SearchOption.AllDirectories)
            : [];
        if (copies.Length == 0)
        {
            // This libstdc++ has every version: no patched copy exists, and the trace says the package's bridge loaded.
            Assert.DoesNotContain(first.Json["torch"]!["trace"]!.AsArray(), l => l!.GetValue<string>().Contains("patched", StringComparison.Ordinal));
            return;
        }
        byte[] written = File.ReadAllBytes(copies[0]);
        byte[] tampered = (byte[])written.Clone();
        tampered[^1] ^= 0xFF;
        File.WriteAllBytes(copies[0], tampered);

        var second = LmTuneProcess.Run(["doctor", "--json"], cache);

        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Equal(written, File.ReadAllBytes(copies[0]));
        Assert.Contains(second.Json["torch"]!["trace"]!.AsArray(), l => l!.GetValue<string>().StartsWith("wrote patched copy", StringComparison.Ordinal));
    }

    [Fact]
    public void Redirected_output_has_no_ansi_escapes()
    {
        var result = LmTuneProcess.Run("doctor");
        Assert.DoesNotContain('\u001b', result.Stdout + result.Stderr);
    }

    [Fact]
    public void When_libtorch_cannot_load_doctor_json_is_one_object_with_the_error()
    {
        // A copy of the tool's folder (hard links) without libtorch_cpu.so.
        using var work = new TempFolder();
        string tool = Path.Combine(work.Path, "tool");
        using (var copy = System.Diagnostics.Process.Start("cp", ["-al", Path.GetDirectoryName(LmTuneProcess.Executable)!, tool]))
            copy.WaitForExit();
        File.Delete(Path.Combine(tool, "libtorch_cpu.so"));
        // An empty NuGet folder, or TorchSharp's fallback would copy libtorch from the package cache next to the tool.
        var start = LmTuneProcess.StartInfo(["doctor", "--json"],
            new Dictionary<string, string?> { ["LM_TUNE_CACHE"] = work["cache"], ["NUGET_PACKAGES"] = work["nuget"] });
        start.FileName = Path.Combine(tool, Path.GetFileName(LmTuneProcess.Executable));
        var (exitCode, stdout, stderr) = LmTuneProcess.Run(start, timeoutSeconds: 120);

        Assert.True(exitCode == 1, $"exit {exitCode}\n{stdout}\n{stderr}");
        var json = System.Text.Json.Nodes.JsonNode.Parse(stdout)!.AsObject(); // throws on a second object
        Assert.Equal("LM0001", json["error"]!["code"]!.GetValue<string>());
        Assert.False(json["torch"]!["loaded"]!.GetValue<bool>());
        Assert.Contains("error LM0001:", stderr);
    }
}
