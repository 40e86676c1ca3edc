using System.Text.Json.Nodes;

namespace Lm.Tool.Tests;

public sealed class TrainEvaluateGenerateTests
{
    [Fact]
    [Trait("Category", "Slow")]
    public void Train_then_evaluate_then_generate_on_a_tiny_model()
    {
        using var work = new TempFolder();
        string output = work["run"];

        var train = LmTuneProcess.Run(["train", "--model", "tiny-gpt2", "--do-eval", "--json", "--logging-steps", "1", .. TinyModels.FastTraining(output)]);
        Assert.True(train.ExitCode == 0, train.ToString());
        var trained = train.Json;
        Assert.Equal(4, trained["global_step"]!.GetValue<int>());
        Assert.Equal("clm", trained["objective"]!.GetValue<string>());
        double evalLoss = trained["eval_loss"]!.GetValue<double>();
        Assert.Equal(Math.Exp(evalLoss), trained["perplexity"]!.GetValue<double>(), 6);
        // HF's train_loss: the mean of the step losses, each logged (rounded to 4 places) with --logging-steps 1.
        var stepLosses = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "trainer_state.json")))!["log_history"]!.AsArray()
            .Where(e => e!["loss"] is not null).Select(e => e!["loss"]!.GetValue<double>()).ToList();
        Assert.Equal(4, stepLosses.Count);
        Assert.Equal(stepLosses.Average(), trained["train_loss"]!.GetValue<double>(), 3);
        foreach (string file in new[] { "config.json", "model.safetensors", "generation_config.json", "vocab.json", "merges.txt",
                     "train_results.json", "eval_results.json", "all_results.json", "trainer_state.json" })
            Assert.True(File.Exists(Path.Combine(output, file)), file);
        Assert.DoesNotContain('\u001b', train.Stdout + train.Stderr);
        Assert.Contains("step 4:", train.Stderr);

        var evaluate = LmTuneProcess.Run("evaluate", "--model", output, "--validation-file", TinyModels.ValidationFile,
            "--block-size", "32", "--per-device-eval-batch-size", "4", "--max-eval-samples", "8", "--json");
        Assert.True(evaluate.ExitCode == 0, evaluate.ToString());
        Assert.Equal(evalLoss, evaluate.Json["eval_loss"]!.GetValue<double>(), 5);
        Assert.Equal(8, evaluate.Json["eval_samples"]!.GetValue<int>());

        var first = LmTuneProcess.Run("generate", "--model", output, "The game", "--max-new-tokens", "6", "--json");
        Assert.True(first.ExitCode == 0, first.ToString());
        var generated = first.Json;
        Assert.StartsWith("The game", generated["generated_text"]!.GetValue<string>());
        int newTokens = generated["new_token_ids"]!.AsArray().Count;
        Assert.InRange(newTokens, 1, 6);
        Assert.Equal(newTokens == 6 ? "max_new_tokens" : "eos", generated["stop_reason"]!.GetValue<string>());
        var second = LmTuneProcess.Run("generate", "--model", output, "The game", "--max-new-tokens", "6", "--json");
        Assert.Equal(generated["new_token_ids"]!.ToJsonString(), second.Json["new_token_ids"]!.ToJsonString());
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void Config_file_supplies_hf_names_and_flags_override_it()
    {
        using var work = new TempFolder();
        File.WriteAllText(work["job.json"], new JsonObject
        {
            ["model_name_or_path"] = TinyModels.Gpt2,
            ["learning_rate"] = 0.001,
            ["max_steps"] = 3,
            ["seed"] = 7,
        }.ToJsonString());

        var result = LmTuneProcess.Run(["train", "--config", work["job.json"], "--json", .. TinyModels.FastTraining(work["run"])]);

        Assert.True(result.ExitCode == 0, result.ToString());
        // --max-steps 4 (a flag) wins over max_steps 3 (the file); learning_rate and seed come from the file.
        Assert.Equal(4, result.Json["global_step"]!.GetValue<int>());
        var arguments = JsonNode.Parse(File.ReadAllText(Path.Combine(work["run"], "training_args.json")))!;
        Assert.Equal(0.001, arguments["learning_rate"]!.GetValue<double>());
        Assert.Equal(7, arguments["seed"]!.GetValue<int>());
    }

    [Fact]
    public void Fill_mask_gives_top_k_candidates_with_scores_for_each_mask()
    {
        // tiny-roberta with lm_head.bias of " capital" raised to 30: its logits elsewhere are within about ±1, so
        // " capital" is the answer at any mask, with a softmax score above 0.999.
        using var work = new TempFolder();
        string model = work["model"];
        Directory.CreateDirectory(model);
        foreach (string file in Directory.GetFiles(TinyModels.Roberta)) File.Copy(file, Path.Combine(model, Path.GetFileName(file)));
        int capital = JsonNode.Parse(File.ReadAllText(Path.Combine(model, "vocab.json")))!["Ġcapital"]!.GetValue<int>();
        SetFloat(Path.Combine(model, "model.safetensors"), "lm_head.bias", capital, 30f);

        var result = LmTuneProcess.Run("fill-mask", "--model", model, "Paris is the <mask> of France.", "--top-k", "3", "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        var candidates = Assert.Single(result.Json["masks"]!.AsArray())!.AsArray();
        Assert.Equal(3, candidates.Count);
        var top = candidates[0]!;
        Assert.Equal(capital, top["token"]!.GetValue<int>());
        Assert.Equal(" capital", top["token_str"]!.GetValue<string>());
        Assert.Equal("Paris is the capital of France.", top["sequence"]!.GetValue<string>());
        Assert.True(top["score"]!.GetValue<double>() > 0.999, top.ToJsonString());
        double[] scores = candidates.Select(c => c!["score"]!.GetValue<double>()).ToArray();
        Assert.Equal(scores.OrderByDescending(s => s), scores);
        Assert.All(candidates, c => Assert.DoesNotContain("<mask>", c!["sequence"]!.GetValue<string>()));
    }

    /// <summary>Overwrites element <paramref name="index"/> of an F32 tensor in a safetensors file, in place.</summary>
    private static void SetFloat(string path, string tensor, int index, float value)
    {
        using var file = File.Open(path, FileMode.Open, FileAccess.ReadWrite);
        var lengthBytes = new byte[8];
        file.ReadExactly(lengthBytes);
        long headerLength = BitConverter.ToInt64(lengthBytes);
        var header = new byte[headerLength];
        file.ReadExactly(header);
        var entry = JsonNode.Parse(header)![tensor]!;
        Assert.Equal("F32", entry["dtype"]!.GetValue<string>());
        file.Position = 8 + headerLength + entry["data_offsets"]![0]!.GetValue<long>() + 4L * index;
        file.Write(BitConverter.GetBytes(value));
    }

    [Fact]
    public void Quickstart_runs_its_whole_workflow_on_the_bundled_data()
    {
        using var work = new TempFolder();
        var result = LmTuneProcess.Run("quickstart", "--output-dir", work["quick"], "--max-steps", "4", "--block-size", "32",
            "--max-train-samples", "8", "--max-eval-samples", "4", "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        var json = result.Json;
        double before = json["perplexity_before"]!.GetValue<double>(), after = json["perplexity_after"]!.GetValue<double>();
        Assert.True(before > 1000, "a random GPT-2 is about as unsure as its 50,257-token vocabulary");
        // Four steps took perplexity from 52,670 to 45,657 (a factor of 1.154) when this test was written; the
        // quickstart exists to show that training helps, so it must drop by at least a factor of 1.10.
        Assert.True(before / after >= 1.10, $"perplexity {before} before, {after} after training");
        Assert.True(Math.Abs(Math.Exp(json["eval_loss_after"]!.GetValue<double>()) / after - 1) < 1e-9, "perplexity is exp(eval_loss)");
        Assert.StartsWith("The game", json["generated_text"]!.GetValue<string>());
        Assert.True(File.Exists(Path.Combine(work["quick"], "model.safetensors")));
    }

    [Fact]
    public void Data_preview_and_stats_describe_the_splits()
    {
        var preview = LmTuneProcess.Run("data", "preview", "--train-file", TinyModels.TrainFile, "-n", "3", "--json");
        Assert.True(preview.ExitCode == 0, preview.ToString());
        Assert.Equal(3, preview.Json["rows"]!.AsArray().Count);

        var table = LmTuneProcess.Run("data", "preview", "--train-file", TinyModels.TrainFile, "-n", "2");
        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.DoesNotContain('\u001b', table.Stdout);

        var stats = LmTuneProcess.Run("data", "stats", "--model", "tiny-gpt2", "--train-file", TinyModels.TrainFile,
            "--validation-file", TinyModels.ValidationFile, "--block-size", "128", "--json");
        Assert.True(stats.ExitCode == 0, stats.ToString());
        foreach (string split in new[] { "train", "validation" })
        {
            var s = stats.Json["splits"]![split]!;
            long tokens = s["tokens"]!.GetValue<long>();
            long examples = s["examples"]!.GetValue<long>();
            Assert.Equal(tokens, examples * 128 + s["dropped_tokens"]!.GetValue<long>());
            Assert.True(examples > 0);
        }
    }
}
