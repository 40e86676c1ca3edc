using System.Text.Json.Nodes;
using Lm.Runtime.Errors;
using Lm.Runtime.Jobs;

namespace Lm.Runtime.Tests.Jobs;

/// <summary>
/// A <c>TrainingArguments.to_json_string()</c> dump of transformers 5 (every field at its default, output_dir "out",
/// written as <c>json.dumps(to_dict(), indent=2)</c> writes it) read as a job.
/// </summary>
public class HfTrainingArgumentsTests
{
    private static JsonObject Dump() =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Jobs", "Data", "training_args.json")))!.AsObject();

    [Fact]
    public void Every_key_of_the_dump_is_a_schema_field_or_a_known_unimplemented_key()
    {
        var unknown = Dump().Select(p => p.Key)
            .Where(k => FineTuneJob.FindField(k)?.Name != k && !HfTrainingArguments.IsUnimplementedKey(k)).ToList();
        Assert.Empty(unknown);
        Assert.Equal(109, Dump().Count);
    }

    [Fact]
    public void Default_dump_reads_as_the_default_job_with_the_unimplemented_keys_named()
    {
        var dump = Dump();
        var translation = HfTrainingArguments.Translate(dump);
        var job = FineTuneJob.FromJson(translation.Job);
        job.Model.ModelNameOrPath = "tiny-gpt2"; // a TrainingArguments dump names no model: the command line does
        job.Validate();

        // Every key the schema does not have is named once, in the dump's order.
        var expectedIgnored = dump.Select(p => p.Key).Where(k => FineTuneJob.FindField(k)?.Name != k).ToList();
        Assert.Equal(expectedIgnored, translation.Ignored);
        Assert.Equal(62, translation.Ignored.Count);
        Assert.StartsWith("62 Hugging Face TrainingArguments key(s)", translation.Warning);

        // HF's spellings of values lm-tune has: report_to [] is "none", the fused AdamW is AdamW.
        Assert.Equal("none", job.Training.ReportTo);
        Assert.Equal("adamw_torch", job.Training.Optim);
        Assert.Equal("out", job.Training.OutputDir);
        Assert.Equal(5e-5, job.Training.LearningRate);
        Assert.Equal(500, job.Training.SaveSteps);
        Assert.Empty(job.Training.LrSchedulerKwargs);
        Assert.Equal(0, job.Training.WarmupRatio);
        Assert.Null(job.Training.RunName);
    }

    [Fact]
    public void Dump_values_are_translated_to_the_schema()
    {
        var dump = Dump();
        dump["warmup_steps"] = 0.1;           // transformers 5: below 1 is a ratio
        dump["use_cpu"] = true;               // device cpu
        dump["report_to"] = new JsonArray("tensorboard", "wandb");
        dump["tf32"] = false;                 // full float32, as lm-tune computes
        dump["dataloader_num_workers"] = 4;   // inert at any value
        dump["learning_rate"] = 3e-4;
        dump["run_name"] = "pasted";
        var job = FineTuneJob.FromJson(HfTrainingArguments.Translate(dump).Job);

        Assert.Equal(0.1, job.Training.WarmupRatio);
        Assert.Equal(0, job.Training.WarmupSteps);
        Assert.Equal("cpu", job.Model.Device);
        Assert.Equal("tensorboard", job.Training.ReportTo);
        Assert.Equal(3e-4, job.Training.LearningRate);
        Assert.Equal("pasted", job.Training.RunName);
    }

    [Theory]
    [InlineData("fp16", "true")]
    [InlineData("neftune_noise_alpha", "5.0")]
    [InlineData("eval_delay", "2")]
    [InlineData("train_sampling_strategy", "\"group_by_length\"")]
    [InlineData("deepspeed", "\"ds_config.json\"")]
    [InlineData("fsdp", "[\"full_shard\"]")]
    [InlineData("do_predict", "true")]
    [InlineData("save_only_model", "true")]
    [InlineData("tf32", "true")]
    public void A_key_that_would_change_training_is_LM0530_naming_it(string key, string value)
    {
        var dump = Dump();
        dump[key] = JsonNode.Parse(value);
        var e = Assert.Throws<LmException>(() => HfTrainingArguments.Translate(dump));
        Assert.Equal(ErrorCodes.HfArgumentNotImplemented, e.Code);
        Assert.Contains($"{key} = {JsonNode.Parse(value)!.ToJsonString()}", e.Message);
    }

    [Fact]
    public void A_key_neither_HF_nor_lm_tune_has_is_still_an_unknown_argument()
    {
        var json = new JsonObject { ["learning_rat"] = 1e-4, ["fp16"] = false };
        var translation = HfTrainingArguments.Translate(json);
        Assert.Equal(["fp16"], translation.Ignored);
        var e = Assert.Throws<LmException>(() => FineTuneJob.FromJson(translation.Job));
        Assert.Equal(ErrorCodes.UnknownArgument, e.Code);
        Assert.Contains("did you mean 'learning_rate'", e.Message);
    }

    [Theory]
    [InlineData("yes", true)]
    [InlineData("True", true)]
    [InlineData("t", true)]
    [InlineData("1", true)]
    [InlineData("NO", false)]
    [InlineData("f", false)]
    [InlineData("0", false)]
    [InlineData("maybe", null)]
    public void Booleans_read_as_HfArgumentParser_string_to_bool(string text, bool? expected) =>
        Assert.Equal(expected, HfTrainingArguments.ParseBool(text));
}
