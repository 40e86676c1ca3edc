using System.Diagnostics;
using System.Text;

namespace Lm.Tool.Tests;

public sealed class CancellationTests
{
    [Fact]
    [Trait("Category", "Slow")]
    public async Task Ctrl_c_during_training_saves_a_checkpoint_and_exits_130()
    {
        using var work = new TempFolder();
        string[] args = ["train", "--model", "tiny-gpt2", .. TinyModels.FastTraining(work["run"]), "--max-steps", "100000", "--max-train-samples", "100000"];
        using var process = Process.Start(LmTuneProcess.StartInfo(args))!;
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
}
