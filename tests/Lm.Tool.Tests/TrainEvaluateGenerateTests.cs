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

        var train = LmTuneProcess.Run(["train", "--model", "tiny-gpt2", "--do-eval", "--json", .. TinyModels.FastTraining(output)]);
        Assert.True(train.ExitCode == 0, train.ToString());
        var trained = train.Json;
        Assert.Equal(4, trained["global_step"]!.GetValue<int>());
        Assert.Equal("clm", trained["objective"]!.GetValue<string>());
        double evalLoss = trained["eval_loss"]!.GetValue<double>();
        Assert.Equal(Math.Exp(evalLoss), trained["perplexity"]!.GetValue<double>(), 6);
        Assert.True(trained["train_loss"]!.GetValue<double>() > 0);
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
        var result = LmTuneProcess.Run("fill-mask", "--model", TinyModels.Roberta, "Paris is the <mask> of France.", "--top-k", "3", "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        var candidates = Assert.Single(result.Json["masks"]!.AsArray())!.AsArray();
        Assert.Equal(3, candidates.Count);
        double[] scores = candidates.Select(c => c!["score"]!.GetValue<double>()).ToArray();
        Assert.Equal(scores.OrderByDescending(s => s), scores);
        Assert.All(candidates, c => Assert.DoesNotContain("<mask>", c!["sequence"]!.GetValue<string>()));
    }

    [Fact]
    public void Quickstart_runs_its_whole_workflow_on_the_bundled_data()
    {
        using var work = new TempFolder();
        var result = LmTuneProcess.Run("quickstart", "--output-dir", work["quick"], "--max-steps", "2", "--block-size", "32",
            "--max-train-samples", "8", "--max-eval-samples", "4", "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        var json = result.Json;
        Assert.True(json["perplexity_before"]!.GetValue<double>() > 1000, "a random GPT-2 is about as unsure as its 50,257-token vocabulary");
        Assert.True(json["perplexity_after"]!.GetValue<double>() > 1);
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
