using System.Text.Json.Nodes;

namespace Lm.Tool.Tests;

public sealed class LoraToolTests
{
    [Fact]
    [Trait("Category", "Slow")]
    public void Train_with_use_peft_writes_a_peft_adapter_that_evaluates_merges_and_generates()
    {
        using var work = new TempFolder();
        string output = work["lora"];
        var train = LmTuneProcess.Run(["train", "--model", TinyModels.Gpt2, "--use-peft", "--lora-r", "4", "--lora-alpha", "8",
            "--lora-dropout", "0", "--lora-target-modules", "all-linear", "--learning-rate", "1e-2", "--do-eval", "--json",
            .. TinyModels.FastTraining(output)]);
        Assert.True(train.ExitCode == 0, train.ToString());
        // tiny-gpt2 (64 wide, MLP 256, two layers), r = 4 on c_attn 4·(64+192), attn.c_proj 4·(64+64), c_fc 4·(64+256),
        // mlp.c_proj 4·(256+64): 4,096 per layer.
        Assert.Equal(8192, train.Json["trainable_parameters"]!.GetValue<long>());
        long baseParameters = 50257L * 64 + 256 * 64 + 2 * (2 * 64 + 64 * 192 + 192 + 64 * 64 + 64 + 2 * 64 + 64 * 256 + 256 + 256 * 64 + 64) + 2 * 64;
        Assert.Equal(baseParameters + 8192, train.Json["total_parameters"]!.GetValue<long>());
        Assert.Contains("trainable params: 8,192", train.Stderr);

        // PEFT's files, the tokenizer and the results; no base weights.
        foreach (string file in new[] { "adapter_config.json", "adapter_model.safetensors", "vocab.json", "merges.txt",
                     "train_results.json", "eval_results.json", "all_results.json", "trainer_state.json" })
            Assert.True(File.Exists(Path.Combine(output, file)), file);
        Assert.False(File.Exists(Path.Combine(output, "model.safetensors")));
        Assert.False(File.Exists(Path.Combine(output, "config.json")));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "adapter_config.json")))!;
        Assert.Equal("LORA", config["peft_type"]!.GetValue<string>());
        Assert.Equal("CAUSAL_LM", config["task_type"]!.GetValue<string>());
        Assert.Equal(TinyModels.Gpt2, config["base_model_name_or_path"]!.GetValue<string>());
        Assert.True(config["fan_in_fan_out"]!.GetValue<bool>());
        Assert.Equal(8, config["target_modules"]!.AsArray().Count);

        double evalLoss = train.Json["eval_loss"]!.GetValue<double>();
        string[] evalFlags = ["--validation-file", TinyModels.ValidationFile, "--block-size", "32", "--per-device-eval-batch-size", "4", "--max-eval-samples", "8", "--json"];
        var baseEval = LmTuneProcess.Run(["evaluate", "--model", TinyModels.Gpt2, .. evalFlags]);
        var adapted = LmTuneProcess.Run(["evaluate", "--model", TinyModels.Gpt2, "--adapter-name-or-path", output, .. evalFlags]);
        Assert.True(adapted.ExitCode == 0, adapted.ToString());
        Assert.Equal(evalLoss, adapted.Json["eval_loss"]!.GetValue<double>(), 5);
        Assert.Equal(0, adapted.Json["trainable_parameters"]!.GetValue<long>());
        Assert.True(baseEval.Json["eval_loss"]!.GetValue<double>() - evalLoss > 1e-3, "the adapter must have learned something");

        string merged = work["merged"];
        var merge = LmTuneProcess.Run("merge", "--model", TinyModels.Gpt2, "--adapter-name-or-path", output, "--output-dir", merged, "--json");
        Assert.True(merge.ExitCode == 0, merge.ToString());
        Assert.Equal(baseParameters, merge.Json["total_parameters"]!.GetValue<long>());
        Assert.True(File.Exists(Path.Combine(merged, "model.safetensors")));
        Assert.False(File.Exists(Path.Combine(merged, "adapter_config.json")));
        var mergedEval = LmTuneProcess.Run(["evaluate", "--model", merged, .. evalFlags]);
        Assert.True(mergedEval.ExitCode == 0, mergedEval.ToString());
        Assert.Equal(evalLoss, mergedEval.Json["eval_loss"]!.GetValue<double>(), 4);

        var viaAdapter = LmTuneProcess.Run("generate", "--model", TinyModels.Gpt2, "--adapter-name-or-path", output, "The game", "--max-new-tokens", "5", "--json");
        var viaMerged = LmTuneProcess.Run("generate", "--model", merged, "The game", "--max-new-tokens", "5", "--json");
        Assert.True(viaAdapter.ExitCode == 0, viaAdapter.ToString());
        Assert.Equal(viaMerged.Json["new_token_ids"]!.ToJsonString(), viaAdapter.Json["new_token_ids"]!.ToJsonString());

        // Training on from the adapter (PEFT's is_trainable=True) starts where it ended.
        string further = work["further"];
        var resumed = LmTuneProcess.Run(["train", "--model", TinyModels.Gpt2, "--adapter-name-or-path", output, "--do-eval", "--json",
            "--learning-rate", "1e-2", .. TinyModels.FastTraining(further)]);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Equal(8192, resumed.Json["trainable_parameters"]!.GetValue<long>());
        Assert.True(File.Exists(Path.Combine(further, "adapter_model.safetensors")));
    }

    [Fact]
    public void Unknown_lora_targets_are_refused_with_their_code()
    {
        using var work = new TempFolder();
        var result = LmTuneProcess.Run(["train", "--model", TinyModels.Gpt2, "--use-peft", "--lora-target-modules", "q_proj",
            .. TinyModels.FastTraining(work["out"])]);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("error LM0801:", result.Stderr);
        Assert.Contains("c_attn", result.Stderr); // the message names the linear layers there are
        Assert.DoesNotContain("   at ", result.Stderr);

        var merge = LmTuneProcess.Run("merge", "--model", TinyModels.Gpt2, "--adapter-name-or-path", work["none"], "--output-dir", work["m"]);
        Assert.Equal(1, merge.ExitCode);
        Assert.Contains("error LM0803:", merge.Stderr);
        Assert.False(Directory.Exists(work["m"]));
    }
}
