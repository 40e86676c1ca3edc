using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace Lm.Tasks.Tests.Build;

/// <summary>The fine-tune step with the real lm-tune: a build trains a tiny model, evaluates it, and the next build skips.</summary>
[Collection(BuildCollection.Name)]
[Trait("Category", "Slow")]
public sealed class RealToolBuildTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Build_trains_a_tiny_gpt2_with_lm_tune_then_skips()
    {
        string configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;
        string tool = Path.Combine(RepoRoot.Path, "src", "Lm.Tool", "bin", configuration, "net10.0", "lm-tune.dll");
        Assert.True(File.Exists(tool), $"{tool} is built with this test project");
        string data = Path.Combine(RepoRoot.Path, "data", "wikitext-2-raw", "sample");
        using var project = new TempProject($"""
            <LanguageModelFineTune Include="tiny" Model="tiny-gpt2" Device="cpu"
                                   TrainFile="{data}/train.txt" ValidationFile="{data}/validation.txt"
                                   MaxTrainSamples="16" MaxEvalSamples="4" BlockSize="32" MaxSteps="3"
                                   PerDeviceTrainBatchSize="2" PerDeviceEvalBatchSize="2" LoggingSteps="1" />
            """);
        project.EditProject($"<LmToolPath>{FakeTool.FileName}</LmToolPath>", $"<LmToolPath>{tool}</LmToolPath>");

        var first = project.Build("-v:n");
        output.WriteLine(first.ToString());
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Contains("tiny: fine-tuned in", first.Output);
        string outputDir = project.PathOf("obj/lm/tiny");
        Assert.True(File.Exists(Path.Combine(outputDir, "model.safetensors")));
        Assert.True(File.Exists(Path.Combine(outputDir, "config.json")));
        var results = JsonNode.Parse(File.ReadAllText(Path.Combine(outputDir, ".lm-complete")))!["results"]!;
        Assert.Equal(3, (int)results["global_step"]!);
        double evalLoss = (double)results["eval_loss"]!;
        // train_loss is HF's mean of the step losses; with LoggingSteps=1 each step's loss is logged (rounded to 4 places).
        var stepLosses = JsonNode.Parse(File.ReadAllText(Path.Combine(outputDir, "trainer_state.json")))!["log_history"]!.AsArray()
            .Where(e => e!["loss"] is not null).Select(e => (double)e!["loss"]!).ToList();
        Assert.Equal(3, stepLosses.Count);
        Assert.Equal(stepLosses.Average(), (double)results["train_loss"]!, 3);
        // Three steps leave tiny-gpt2 about as unsure as a uniform guess over its 50,257 tokens (ln 50257 = 10.82).
        Assert.InRange(evalLoss, 10.0, 11.5);
        Assert.Equal(Math.Exp(evalLoss), (double)results["perplexity"]!, 6);

        var second = project.Build("--no-restore", "-v:d");
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Contains("Skipping target \"LmFineTune\" because all output files are up-to-date", second.Output);

        // The tool prints the key the build's stamp records, for the job file the build wrote (run in the project folder).
        // Both streams read while it runs, so the time limit fires even if it hangs.
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { WorkingDirectory = project.Directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in new[] { tool, "train", "--config", project.PathOf("obj/lm/tiny.job.json"), "--print-cache-key" }) start.ArgumentList.Add(argument);
        using var printing = System.Diagnostics.Process.Start(start)!;
        var stdout = printing.StandardOutput.ReadToEndAsync();
        var stderr = printing.StandardError.ReadToEndAsync();
        bool exited = printing.WaitForExit(TimeSpan.FromMinutes(2));
        if (!exited) printing.Kill(entireProcessTree: true);
        Assert.True(exited, "lm-tune --print-cache-key did not finish in 2 minutes");
        string printed = (await stdout).Trim();
        Assert.True(printing.ExitCode == 0, $"{printed}\n{await stderr}");
        string stampKey = JsonNode.Parse(File.ReadAllText(Path.Combine(outputDir, ".lm-complete")))!["cache_key"]!.GetValue<string>();
        Assert.Equal(stampKey, printed);
    }
}
