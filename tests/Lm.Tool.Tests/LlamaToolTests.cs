using System.Text.Json.Nodes;

namespace Lm.Tool.Tests;

public sealed class LlamaToolTests
{
    [Fact]
    [Trait("Category", "Slow")]
    public void Init_tiny_llama_then_train_lowers_the_loss_and_generate_repeats_itself()
    {
        using var work = new TempFolder();
        string model = work["tiny-llama"];
        var init = LmTuneProcess.Run("init", "tiny-llama", "--output-dir", model, "--json");
        Assert.True(init.ExitCode == 0, init.ToString());
        Assert.Equal("LlamaForCausalLM", init.Json["architecture"]!.GetValue<string>());
        // 50,257 × 64 embedding + as many for the untied head + 2 layers × (attention 64×64 + 2 × 64×32 + 64×64,
        // MLP 3 × 64×128, two norms) + the final norm.
        Assert.Equal(2L * 50257 * 64 + 2 * (2 * 64 * 64 + 2 * 64 * 32 + 3 * 64 * 128 + 2 * 64) + 64, init.Json["parameters"]!.GetValue<long>());
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(model, "config.json")))!;
        Assert.Equal("llama", config["model_type"]!.GetValue<string>());
        Assert.False(config["tie_word_embeddings"]!.GetValue<bool>());

        string output = work["run"];
        var train = LmTuneProcess.Run("train", "--model", model, "--train-file", TinyModels.TrainFile, "--output-dir", output,
            "--max-steps", "8", "--block-size", "32", "--per-device-train-batch-size", "2", "--max-train-samples", "32",
            "--learning-rate", "1e-3", "--logging-steps", "1", "--report-to", "none", "--save-strategy", "no", "--json");
        Assert.True(train.ExitCode == 0, train.ToString());
        Assert.Equal("clm", train.Json["objective"]!.GetValue<string>());
        Assert.Equal(8, train.Json["global_step"]!.GetValue<int>());
        double[] losses = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "trainer_state.json")))!["log_history"]!.AsArray()
            .Where(entry => entry!["loss"] is not null).Select(entry => entry!["loss"]!.GetValue<double>()).ToArray();
        Assert.Equal(8, losses.Length);
        // A random model starts near ln(50257) ≈ 10.8; eight steps at 1e-3 bring the loss down.
        Assert.InRange(losses[0], 10.0, 11.5);
        Assert.True(losses[^3..].Average() < losses[0] - 0.02, string.Join(", ", losses));

        var first = LmTuneProcess.Run("generate", "--model", output, "The game", "--max-new-tokens", "5", "--json");
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.StartsWith("The game", first.Json["generated_text"]!.GetValue<string>());
        var second = LmTuneProcess.Run("generate", "--model", output, "The game", "--max-new-tokens", "5", "--json");
        Assert.Equal(first.Json["new_token_ids"]!.ToJsonString(), second.Json["new_token_ids"]!.ToJsonString());
    }

    [Fact]
    public void Init_of_a_preset_without_a_vocabulary_asks_for_a_tokenizer_and_creates_nothing()
    {
        using var work = new TempFolder();
        string model = work["smollm2"];
        var result = LmTuneProcess.Run("init", "smollm2-135m", "--output-dir", model);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("error LM0201:", result.Stderr);
        Assert.Contains("--tokenizer-name", result.Stderr);
        Assert.False(Directory.Exists(model));
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void A_qwen2_config_with_a_padded_vocabulary_gets_gpt2s_tokenizer_and_evaluates()
    {
        using var work = new TempFolder();
        // 50,304 embedding rows (a multiple of 64, as padded vocabularies are) for GPT-2's 50,257 tokens.
        File.WriteAllText(work["config.json"], """
            {"model_type": "qwen2", "vocab_size": 50304, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 128, "tie_word_embeddings": true,
             "bos_token_id": 50256, "eos_token_id": [50256]}
            """);
        string model = work["model"];
        var init = LmTuneProcess.Run("init", work["config.json"], "--output-dir", model, "--json");
        Assert.True(init.ExitCode == 0, init.ToString());
        Assert.Equal("Qwen2ForCausalLM", init.Json["architecture"]!.GetValue<string>());
        Assert.True(File.Exists(Path.Combine(model, "vocab.json")));
        var generation = JsonNode.Parse(File.ReadAllText(Path.Combine(model, "generation_config.json")))!;
        Assert.Equal("[50256]", generation["eos_token_id"]!.ToJsonString());

        var evaluate = LmTuneProcess.Run("evaluate", "--model", model, "--validation-file", TinyModels.ValidationFile,
            "--block-size", "32", "--per-device-eval-batch-size", "4", "--max-eval-samples", "4", "--json");
        Assert.True(evaluate.ExitCode == 0, evaluate.ToString());
        // A random model spreads its probability over all rows, the padding rows included: about ln(50304).
        Assert.InRange(evaluate.Json["eval_loss"]!.GetValue<double>(), Math.Log(50304) - 0.5, Math.Log(50304) + 0.5);

        var generate = LmTuneProcess.Run("generate", "--model", model, "Hello", "--max-new-tokens", "4", "--json");
        Assert.True(generate.ExitCode == 0, generate.ToString());
        Assert.InRange(generate.Json["new_token_ids"]!.AsArray().Count, 1, 4);
    }
}
