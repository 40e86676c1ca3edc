using System.Diagnostics;
using System.Text;
using Lm.Testing;

namespace Lm.Tool.Tests;

public sealed class CancellationTests
{
    [Fact]
    public void A_child_to_be_interrupted_has_sigint_at_its_default_where_the_test_run_ignores_it()
    {
        // `env --ignore-signal=INT` stands for a test run started from a background shell: what it starts inherits the
        // ignored SIGINT, unless started through Interruptible as the tests below start lm-tune.
        static bool ChildIgnoresSigint(bool interruptible)
        {
            var start = new ProcessStartInfo("cat", ["/proc/self/status"]);
            if (interruptible) start = Interruptible.WithDefaultSigint(start);
            var result = LmTuneProcess.Run(new ProcessStartInfo("env", ["--ignore-signal=INT", start.FileName, .. start.ArgumentList])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            }, timeoutSeconds: 60);
            Assert.True(result.ExitCode == 0, result.ToString());
            return Interruptible.SigintIgnored(result.Stdout);
        }

        Assert.True(ChildIgnoresSigint(interruptible: false));
        Assert.False(ChildIgnoresSigint(interruptible: true));
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task Ctrl_c_during_training_saves_a_checkpoint_and_exits_130()
    {
        using var work = new TempFolder();
        string[] args = ["train", "--model", "tiny-gpt2", .. TinyModels.FastTraining(work["run"]), "--max-steps", "100000", "--max-train-samples", "100000"];
        using var process = Process.Start(Interruptible.WithDefaultSigint(LmTuneProcess.StartInfo(args)))!;
        var stderr = new StringBuilder();
        var training = new ManualResetEventSlim();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (stderr) stderr.AppendLine(e.Data);
            if (e.Data.StartsWith("training:", StringComparison.Ordinal)) training.Set();
        };
        process.BeginErrorReadLine();
        var stdout = process.StandardOutput.ReadToEndAsync();
        try
        {
            Assert.True(training.Wait(TimeSpan.FromMinutes(3)), "training never started: " + stderr);
            using (var interrupt = Process.Start("kill", ["-INT", process.Id.ToString()])) interrupt.WaitForExit();
            Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "lm-tune did not stop after SIGINT");
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        process.WaitForExit();

        string log;
        lock (stderr) log = stderr.ToString();
        Assert.True(process.ExitCode == 130, $"exit {process.ExitCode}\n{log}");
        Assert.Contains("error LM0413:", log);
        Assert.Equal("", await stdout);
        Assert.NotEmpty(Directory.GetDirectories(work["run"], "checkpoint-*"));
    }

    [Fact]
    public async Task Ctrl_c_while_tokenizing_is_LM0513_exits_130_and_leaves_no_cache_entry()
    {
        using var work = new TempFolder();
        // Some 40 MB of text: seconds of tokenizing, so Ctrl+C arrives while it runs.
        string sample = File.ReadAllText(TinyModels.TrainFile);
        using (var writer = new StreamWriter(work["big.txt"]))
        {
            for (int written = 0; written < 40_000_000; written += sample.Length) writer.Write(sample);
        }
        string cache = work["cache"];
        string[] args = ["train", "--model", "tiny-gpt2", "--train-file", work["big.txt"], "--output-dir", work["run"], "--max-steps", "1",
            "--block-size", "32", "--report-to", "none", "--save-strategy", "no"];
        using var process = Process.Start(Interruptible.WithDefaultSigint(LmTuneProcess.StartInfo(args, new Dictionary<string, string?> { ["LM_TUNE_CACHE"] = cache })))!;
        var stderr = new StringBuilder();
        var tokenizing = new ManualResetEventSlim();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (stderr) stderr.AppendLine(e.Data);
            if (e.Data.StartsWith("tokenize:", StringComparison.Ordinal)) tokenizing.Set();
        };
        process.BeginErrorReadLine();
        var stdout = process.StandardOutput.ReadToEndAsync();
        try
        {
            Assert.True(tokenizing.Wait(TimeSpan.FromMinutes(3)), "tokenizing never started: " + stderr);
            using (var interrupt = Process.Start("kill", ["-INT", process.Id.ToString()])) interrupt.WaitForExit();
            Assert.True(process.WaitForExit(TimeSpan.FromMinutes(1)), "lm-tune did not stop after SIGINT");
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        process.WaitForExit();

        string log;
        lock (stderr) log = stderr.ToString();
        Assert.True(process.ExitCode == 130, $"exit {process.ExitCode}\n{log}");
        Assert.Contains("error LM0513: cancelled", log);
        Assert.DoesNotContain("training:", log);
        Assert.Equal("", await stdout);
        // Neither a half-written entry nor a complete one: the token cache holds nothing, the output folder nothing.
        string datasets = Path.Combine(cache, "datasets");
        Assert.Empty(Directory.Exists(datasets) ? Directory.EnumerateFileSystemEntries(datasets) : []);
        Assert.Empty(Directory.EnumerateFileSystemEntries(work["run"]));
    }

    [Fact]
    public async Task Ctrl_c_during_a_download_is_LM0513_and_exits_130()
    {
        // A "hub" that accepts the connection and never answers: lm-tune waits in the download until Ctrl+C.
        using var hub = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        hub.Start();
        int port = ((System.Net.IPEndPoint)hub.LocalEndpoint).Port;
        using var home = new TempFolder();
        var start = LmTuneProcess.StartInfo(["generate", "--model", "acme/tiny-gpt2", "Hello"],
            new Dictionary<string, string?> { ["HF_ENDPOINT"] = $"http://127.0.0.1:{port}", ["HF_HOME"] = home.Path });
        using var process = Process.Start(Interruptible.WithDefaultSigint(start))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            using var accept = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            using var connection = await hub.AcceptTcpClientAsync(accept.Token);
            using (var interrupt = Process.Start("kill", ["-INT", process.Id.ToString()])) interrupt.WaitForExit();
            Assert.True(process.WaitForExit(TimeSpan.FromMinutes(1)), "lm-tune did not stop after SIGINT");
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        process.WaitForExit();

        string log = await stderr;
        Assert.True(process.ExitCode == 130, $"exit {process.ExitCode}\n{log}");
        Assert.Contains("error LM0513: cancelled", log);
        Assert.Equal("", await stdout);
    }
}
