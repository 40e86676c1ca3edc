namespace Lm.Tool.Tests;

/// <summary><c>train</c>'s output-folder rules: HF's automatic resume, with the trainer's idea of a complete checkpoint.</summary>
public sealed class OutputFolderTests
{
    private static string[] Training(string output) =>
    [
        "train", "--model", "tiny-gpt2", "--train-file", TinyModels.TrainFile, "--output-dir", output, "--max-steps", "3",
        "--block-size", "32", "--per-device-train-batch-size", "2", "--max-train-samples", "16", "--report-to", "none",
        "--save-strategy", "steps", "--save-steps", "1", "--json",
    ];

    [Fact]
    [Trait("Category", "Slow")]
    public void Automatic_resume_passes_over_incomplete_newer_checkpoints_and_names_that_are_no_step()
    {
        using var work = new TempFolder();
        string output = work["run"];
        var first = LmTuneProcess.Run(Training(output));
        Assert.True(first.ExitCode == 0, first.ToString());
        // checkpoint-3's weights lost their tail after the save; checkpoint-2's save never wrote its marker; a folder
        // named with a number no step can have (once LM0599, an overflow).
        string weights3 = Path.Combine(output, "checkpoint-3", "model.safetensors");
        File.WriteAllBytes(weights3, File.ReadAllBytes(weights3)[..100]);
        File.Delete(Path.Combine(output, "checkpoint-2", "checkpoint_complete.json"));
        Directory.CreateDirectory(Path.Combine(output, "checkpoint-99999999999999999999"));

        var resumed = LmTuneProcess.Run(Training(output));

        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains($"checkpoint detected, resuming training at {Path.Combine(output, "checkpoint-1")}", resumed.Stderr);
        Assert.Contains($"ignored incomplete checkpoint {Path.Combine(output, "checkpoint-2")}: it has no checkpoint_complete.json", resumed.Stderr);
        Assert.Contains($"ignored incomplete checkpoint {Path.Combine(output, "checkpoint-3")}: 'model.safetensors' has 100 bytes", resumed.Stderr);
        Assert.Equal(3, resumed.Json["global_step"]!.GetValue<int>());
        // The resumed run wrote steps 2 and 3 again, complete this time.
        var complete = File.ReadAllText(Path.Combine(output, "checkpoint-3", "checkpoint_complete.json"));
        Assert.Contains($"\"model.safetensors\": {new FileInfo(weights3).Length}", complete);
        Assert.True(File.Exists(Path.Combine(output, "checkpoint-2", "checkpoint_complete.json")));
    }

    [Fact]
    public void A_folder_holding_only_the_build_steps_marker_counts_as_empty()
    {
        using var work = new TempFolder();
        Directory.CreateDirectory(work["run"]);
        File.WriteAllText(work["run/.lm-tune-output.json"], "{}");
        File.WriteAllText(work["run/notes.txt"], "keep me");

        var refused = LmTuneProcess.Run(["train", "--model", "tiny-gpt2", .. TinyModels.FastTraining(work["run"]), "--max-steps", "1"]);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("error LM0506", refused.Stderr);

        File.Delete(work["run/notes.txt"]);
        var trained = LmTuneProcess.Run(["train", "--model", "tiny-gpt2", .. TinyModels.FastTraining(work["run"]), "--max-steps", "1"]);
        Assert.True(trained.ExitCode == 0, trained.ToString());
        Assert.Equal("{}", File.ReadAllText(work["run/.lm-tune-output.json"]));
    }
}
