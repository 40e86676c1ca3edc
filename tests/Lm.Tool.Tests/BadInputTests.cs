namespace Lm.Tool.Tests;

/// <summary>Every input a user can get wrong ends with its LM code, a non-zero exit and no stack trace.</summary>
public sealed class BadInputTests
{
    private static void AssertLmError(LmTuneProcess.Result result, string code)
    {
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains($"error {code}:", result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr);
        Assert.Equal("", result.Stdout);
    }

    [Fact]
    public void Unknown_model_id_offline()
    {
        var result = LmTuneProcess.Run(["generate", "--model", "acme/no-such-model", "Hello"],
            new Dictionary<string, string?> { ["HF_HUB_OFFLINE"] = "1" });
        AssertLmError(result, "LM0501");
        Assert.Contains("HF_HUB_OFFLINE", result.Stderr);
    }

    [Fact]
    public void Folder_without_config_json()
    {
        using var work = new TempFolder();
        AssertLmError(LmTuneProcess.Run("generate", "--model", work.Path, "Hello"), "LM0107");
    }

    [Fact]
    public void Config_of_an_unsupported_model_type()
    {
        using var work = new TempFolder();
        File.WriteAllText(work["config.json"], "{\"model_type\": \"t5\", \"vocab_size\": 100}");
        var result = LmTuneProcess.Run("generate", "--model", work.Path, "Hello");
        AssertLmError(result, "LM0101");
        Assert.Contains("t5", result.Stderr);
    }

    [Fact]
    public void Tokenizer_files_missing()
    {
        using var work = new TempFolder();
        foreach (string file in new[] { "config.json", "model.safetensors", "generation_config.json" })
            File.Copy(Path.Combine(TinyModels.Gpt2, file), work[file]);
        AssertLmError(LmTuneProcess.Run("generate", "--model", work.Path, "Hello"), "LM0201");
    }

    [Fact]
    public void Block_size_larger_than_the_models_positions()
    {
        using var work = new TempFolder();
        var result = LmTuneProcess.Run(["train", "--model", "tiny-gpt2", .. TinyModels.FastTraining(work["run"]), "--block-size", "100000"]);
        AssertLmError(result, "LM0508");
        Assert.Contains("--block-size 100000", result.Stderr);
    }

    [Fact]
    public void Config_overrides_reach_the_model_from_scratch_and_unknown_keys_are_refused()
    {
        using var work = new TempFolder();
        string[] fromScratch = ["train", "--config-name", "tiny-gpt2", "--train-file", TinyModels.TrainFile, "--output-dir", work["run"], "--block-size", "100"];
        var shrunk = LmTuneProcess.Run([.. fromScratch, "--config-overrides", "n_embd=32,n_positions=64"]);
        AssertLmError(shrunk, "LM0508");
        Assert.Contains("64 positions", shrunk.Stderr);
        var unknown = LmTuneProcess.Run([.. fromScratch, "--config-overrides", "n_embedding=32"]);
        AssertLmError(unknown, "LM0401");
        Assert.Contains("n_embedding", unknown.Stderr);
    }

    [Fact]
    public void Output_dir_not_empty_without_overwrite()
    {
        using var work = new TempFolder();
        Directory.CreateDirectory(work["run"]);
        File.WriteAllText(work["run/notes.txt"], "keep me");
        var result = LmTuneProcess.Run(["train", "--model", "tiny-gpt2", .. TinyModels.FastTraining(work["run"])]);
        AssertLmError(result, "LM0506");
        Assert.Contains("--overwrite-output-dir", result.Stderr);
        Assert.Equal("keep me", File.ReadAllText(work["run/notes.txt"]));
    }

    [Fact]
    public void Output_dir_not_writable()
    {
        using var work = new TempFolder();
        File.WriteAllText(work["a-file"], "");
        // A folder inside a regular file can be made by no one, root included.
        AssertLmError(LmTuneProcess.Run(["train", "--model", "tiny-gpt2", .. TinyModels.FastTraining(work["a-file/run"])]), "LM0507");
    }

    [Theory]
    [InlineData("--learning-rate", "-1")]
    [InlineData("--learning-rate", "0")]
    [InlineData("--per-device-train-batch-size", "0")]
    [InlineData("--per-device-eval-batch-size", "-2")]
    [InlineData("--num-train-epochs", "0")]
    [InlineData("--block-size", "0")]
    [InlineData("--max-eval-samples", "-5")]
    [InlineData("--max-steps", "0")]
    [InlineData("--logging-steps", "0")]
    public void Negative_or_zero_numeric_flags(string flag, string value)
    {
        using var work = new TempFolder();
        string[] args = ["train", "--model", "tiny-gpt2", "--train-file", TinyModels.TrainFile, "--output-dir", work["run"], flag, value];
        var result = LmTuneProcess.Run(args);
        AssertLmError(result, "LM0401");
        Assert.Contains(flag[2..].Replace('-', '_'), result.Stderr);
    }

    [Theory]
    [InlineData("--max-new-tokens", "0")]
    [InlineData("--temperature", "0")]
    [InlineData("--top-p", "1.5")]
    [InlineData("--top-k", "-1")]
    public void Out_of_range_generation_flags(string flag, string value)
    {
        AssertLmError(LmTuneProcess.Run("generate", "--model", "tiny-gpt2", "Hello", flag, value), "LM0511");
    }

    [Fact]
    public void Fill_mask_text_without_a_mask_token()
    {
        var result = LmTuneProcess.Run("fill-mask", "--model", "tiny-roberta", "There is nothing to fill here.");
        AssertLmError(result, "LM0509");
        Assert.Contains("<mask>", result.Stderr);
    }

    [Fact]
    public void Generate_on_a_masked_language_model()
    {
        var result = LmTuneProcess.Run("generate", "--model", "tiny-roberta", "Hello");
        AssertLmError(result, "LM0510");
        Assert.Contains("fill-mask", result.Stderr);
    }

    [Fact]
    public void Unknown_key_in_the_config_file_suggests_the_nearest_name()
    {
        using var work = new TempFolder();
        File.WriteAllText(work["job.json"], "{\"model_name_or_path\": \"tiny-gpt2\", \"lerning_rate\": 0.001}");
        var result = LmTuneProcess.Run("train", "--config", work["job.json"], "--train-file", TinyModels.TrainFile, "--output-dir", work["run"]);
        AssertLmError(result, "LM0402");
        Assert.Contains("learning_rate", result.Stderr);
    }

    [Fact]
    public void Unknown_train_flag_is_a_usage_error_naming_the_nearest_flag()
    {
        var result = LmTuneProcess.Run("train", "--model", "tiny-gpt2", "--lerning-rate", "0.001");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--learning-rate", result.Stderr);
    }

    [Fact]
    public void Verbose_adds_the_stack_trace()
    {
        using var work = new TempFolder();
        var result = LmTuneProcess.Run("generate", "--model", work.Path, "Hello", "--verbose");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("error LM0107:", result.Stderr);
        Assert.Contains("   at ", result.Stderr);
    }

    [Fact]
    public void Json_errors_are_one_object_on_stdout()
    {
        var result = LmTuneProcess.Run(["generate", "--model", "acme/no-such-model", "Hello", "--json"],
            new Dictionary<string, string?> { ["HF_HUB_OFFLINE"] = "1" });
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("LM0501", result.Json["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public void A_data_error_names_the_file_and_line_as_msbuild_reads_it()
    {
        using var work = new TempFolder();
        string data = work["train.jsonl"];
        File.WriteAllText(data, "{\"text\": \"one\"}\n{\"text\": \"two\"\n{\"text\": \"three\"}\n");
        var result = LmTuneProcess.Run(["train", "--model", TinyModels.Gpt2, "--train-file", data, "--output-dir", work["out"], "--json"]);

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.StartsWith($"{data}(2): error LM", result.Stderr.Split('\n').Single(l => l.Contains("error LM")));
        Assert.Equal(data, result.Json["error"]!["file"]!.GetValue<string>());
        Assert.Equal(2, result.Json["error"]!["line"]!.GetValue<int>());
    }
}
