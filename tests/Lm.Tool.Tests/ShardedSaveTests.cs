using System.Text.Json.Nodes;

namespace Lm.Tool.Tests;

/// <summary><c>--max-shard-size</c> (lm-tune-specific; save_pretrained's max_shard_size) on the saves of <c>train</c>.</summary>
public sealed class ShardedSaveTests
{
    [Fact]
    public void Train_with_a_small_max_shard_size_saves_shards_that_evaluate_reads()
    {
        using var work = new TempFolder();
        string output = work["run"];
        var train = LmTuneProcess.Run("train", "--model", "tiny-gpt2", "--train-file", TinyModels.TrainFile, "--output-dir", output,
            "--max-steps", "1", "--block-size", "16", "--per-device-train-batch-size", "2", "--max-train-samples", "4",
            "--report-to", "none", "--save-strategy", "no", "--max-shard-size", "4MB", "--json");
        Assert.True(train.ExitCode == 0, train.ToString());

        // tiny-gpt2's 50,257 x 64 float32 embedding (12,865,792 bytes) is over 4 MB: a shard of its own, listed
        // first; the rest (about 0.4 MB) fills the second.
        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "model.safetensors.index.json")))!;
        var weightMap = index["weight_map"]!.AsObject();
        Assert.Equal("model-00001-of-00002.safetensors", weightMap["transformer.wte.weight"]!.GetValue<string>());
        Assert.All(weightMap.Where(p => p.Key != "transformer.wte.weight"), p => Assert.Equal("model-00002-of-00002.safetensors", p.Value!.GetValue<string>()));
        Assert.False(File.Exists(Path.Combine(output, "model.safetensors")));
        Assert.Equal(12_865_792L, new FileInfo(Path.Combine(output, "model-00001-of-00002.safetensors")).Length - HeaderBytes(Path.Combine(output, "model-00001-of-00002.safetensors")));

        var evaluate = LmTuneProcess.Run("evaluate", "--model", output, "--validation-file", TinyModels.ValidationFile,
            "--block-size", "16", "--max-eval-samples", "2", "--json");
        Assert.True(evaluate.ExitCode == 0, evaluate.ToString());
        Assert.InRange(evaluate.Json["eval_loss"]!.GetValue<double>(), 5.0, 12.0);
    }

    [Fact]
    public void A_max_shard_size_that_is_not_a_size_is_LM0160_before_anything_is_written()
    {
        using var work = new TempFolder();
        string output = work["run"];
        var train = LmTuneProcess.Run("train", "--model", "tiny-gpt2", "--train-file", TinyModels.TrainFile, "--output-dir", output,
            "--max-steps", "1", "--max-shard-size", "1.5GB");
        Assert.Equal(1, train.ExitCode);
        Assert.Contains("LM0160", train.Stderr);
        Assert.Contains("max_shard_size '1.5GB'", train.Stderr);
        Assert.False(Directory.Exists(output));
    }

    private static long HeaderBytes(string path)
    {
        using var stream = File.OpenRead(path);
        var length = new byte[8];
        stream.ReadExactly(length);
        return 8 + BitConverter.ToInt64(length);
    }
}
