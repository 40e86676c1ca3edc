using System.Text;
using System.Text.Json.Nodes;

namespace Lm.Tool.Tests;

/// <summary>
/// Hugging Face command lines and job files pasted as they are: HfArgumentParser's spellings of flags and booleans,
/// a full <c>TrainingArguments.to_json_string()</c> dump, and options that act or are refused.
/// </summary>
public sealed class HfCompatibilityTests
{
    private static readonly string DumpFile = Path.Combine(LmTuneProcess.RepoRoot, "tests", "Lm.Runtime.Tests", "Jobs", "Data", "training_args.json");

    private static JsonObject Stats(params string[] flags)
    {
        var result = LmTuneProcess.Run(["data", "stats", "--model", "tiny-gpt2", "--json", .. flags]);
        Assert.True(result.ExitCode == 0, result.ToString());
        return result.Json["splits"]!["train"]!.AsObject();
    }

    [Fact]
    public void Underscore_flags_and_no_negations_read_as_HfArgumentParser_reads_them()
    {
        var kept = Stats("--train-file", TinyModels.TrainFile, "--block-size", "32");
        var underscored = Stats("--train_file", TinyModels.TrainFile, "--block_size", "32");
        Assert.Equal(kept.ToJsonString(), underscored.ToJsonString());

        // keep_linebreaks defaults to true, so HF has --no_keep_linebreaks / --no-keep-linebreaks; each dropped line
        // break was one GPT-2 token ("\n", id 198): one token fewer per row.
        var dropped = Stats("--train_file", TinyModels.TrainFile, "--block_size", "32", "--no_keep_linebreaks");
        Assert.Equal(kept["tokens"]!.GetValue<long>() - kept["rows"]!.GetValue<long>(), dropped["tokens"]!.GetValue<long>());
        foreach (string[] spelling in new string[][] { ["--no-keep-linebreaks"], ["--keep_linebreaks", "False"], ["--keep-linebreaks", "no"], ["--keep_linebreaks", "0"] })
            Assert.Equal(dropped.ToJsonString(), Stats(["--train_file", TinyModels.TrainFile, "--block_size", "32", .. spelling]).ToJsonString());
    }

    [Fact]
    public void A_TrainingArguments_dump_trains_with_its_values_and_one_warning_for_what_is_not_implemented()
    {
        using var temp = new TempFolder();
        var dump = JsonNode.Parse(File.ReadAllText(DumpFile))!.AsObject();
        dump["output_dir"] = temp["out"];
        dump["learning_rate"] = 1e-3;
        dump["run_name"] = "pasted-from-hf";
        dump["report_to"] = new JsonArray("tensorboard");
        dump["logging_dir"] = temp["tb"];
        File.WriteAllText(temp["training_args.json"], dump.ToJsonString());

        var result = LmTuneProcess.Run(["train", "--config", temp["training_args.json"], "--model", "tiny-gpt2",
            "--config_overrides", "n_embd=32,resid_pdrop=0.2", "--train_file", TinyModels.TrainFile, "--max_steps", "1",
            "--block_size", "32", "--per_device_train_batch_size", "2", "--max_train_samples", "4", "--save_strategy", "no", "--json"]);
        Assert.True(result.ExitCode == 0, result.ToString());

        var warnings = result.Stderr.Split('\n').Where(l => l.StartsWith("warning", StringComparison.Ordinal)).ToList();
        var warning = Assert.Single(warnings);
        Assert.Contains("62 Hugging Face TrainingArguments key(s)", warning);
        Assert.Contains("fp16, bf16_full_eval", warning);
        Assert.Contains("local_rank", warning);

        var args = JsonNode.Parse(File.ReadAllText(temp["out/training_args.json"]))!.AsObject();
        Assert.Equal(1e-3, args["learning_rate"]!.GetValue<double>());
        Assert.Equal("adamw_torch", args["optim"]!.GetValue<string>());
        Assert.Equal("tensorboard", args["report_to"]!.GetValue<string>());
        // config_overrides acted on the preset's from-scratch config, as update_from_string does.
        var config = JsonNode.Parse(File.ReadAllText(temp["out/config.json"]))!.AsObject();
        Assert.Equal(32, config["n_embd"]!.GetValue<int>());
        Assert.Equal(0.2, config["resid_pdrop"]!.GetValue<double>());
        // run_name reaches TensorBoard where HF's TensorBoardCallback puts it: the "args" text (args.to_json_string()).
        string events = Encoding.UTF8.GetString(File.ReadAllBytes(Assert.Single(Directory.GetFiles(temp["tb"], "events.out.tfevents.*"))));
        Assert.Contains("\"run_name\": \"pasted-from-hf\"", events);
    }

    [Fact]
    public void A_dump_key_that_would_change_training_is_LM0530_and_nothing_is_written()
    {
        using var temp = new TempFolder();
        var dump = JsonNode.Parse(File.ReadAllText(DumpFile))!.AsObject();
        dump["output_dir"] = temp["out"];
        dump["fp16"] = true;
        dump["neftune_noise_alpha"] = JsonNode.Parse("5.0"); // as Python writes it
        File.WriteAllText(temp["training_args.json"], dump.ToJsonString());

        var result = LmTuneProcess.Run("train", "--config", temp["training_args.json"], "--model", "tiny-gpt2", "--train_file", TinyModels.TrainFile);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("error LM0530:", result.Stderr);
        Assert.Contains("fp16 = true (HF's default false); neftune_noise_alpha = 5.0 (HF's default null)", result.Stderr);
        Assert.False(Directory.Exists(temp["out"]));
    }

    [Fact]
    public void Config_options_that_cannot_act_on_a_pretrained_model_are_LM0531()
    {
        using var temp = new TempFolder();
        var overrides = LmTuneProcess.Run("train", "--model", TinyModels.Gpt2, "--config_overrides", "n_embd=10",
            "--train_file", TinyModels.TrainFile, "--output_dir", temp["a"]);
        Assert.Equal(1, overrides.ExitCode);
        Assert.Contains("error LM0531: config_overrides 'n_embd=10' cannot change the pretrained model", overrides.Stderr);

        var configName = LmTuneProcess.Run("train", "--model", TinyModels.Gpt2, "--config_name", "tiny-roberta",
            "--train_file", TinyModels.TrainFile, "--output_dir", temp["b"]);
        Assert.Equal(1, configName.ExitCode);
        Assert.Contains("error LM0531: config_name 'tiny-roberta' cannot replace the config", configName.Stderr);
        Assert.False(Directory.Exists(temp["a"]) || Directory.Exists(temp["b"]));
    }
}
