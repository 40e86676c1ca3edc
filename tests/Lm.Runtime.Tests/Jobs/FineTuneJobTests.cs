using System.Text.Json.Nodes;
using Lm.Runtime.Errors;
using Lm.Runtime.Jobs;

namespace Lm.Runtime.Tests.Jobs;

public class FineTuneJobTests
{
    [Fact]
    public void Defaults_are_Hugging_Face_defaults()
    {
        var job = FineTuneJob.FromJson("{}");
        var t = job.Training;
        Assert.Equal(5e-5, t.LearningRate);
        Assert.Equal(0.0, t.WeightDecay);
        Assert.Equal(0.9, t.AdamBeta1);
        Assert.Equal(0.999, t.AdamBeta2);
        Assert.Equal(1e-8, t.AdamEpsilon);
        Assert.Equal(1.0, t.MaxGradNorm);
        Assert.Equal(3.0, t.NumTrainEpochs);
        Assert.Equal(-1, t.MaxSteps);
        Assert.Equal(8, t.PerDeviceTrainBatchSize);
        Assert.Equal(8, t.PerDeviceEvalBatchSize);
        Assert.Equal("linear", t.LrSchedulerType);
        Assert.Equal(0, t.WarmupSteps);
        Assert.Equal(500, t.LoggingSteps);
        Assert.Equal(500, t.SaveSteps);
        Assert.Equal(42, t.Seed);
        Assert.Equal("no", t.EvalStrategy);
        Assert.Equal(0.15, job.Data.MlmProbability);
        Assert.Equal(5, job.Data.ValidationSplitPercentage);
        Assert.True(job.Data.KeepLinebreaks);
        Assert.Equal(1000, job.Data.GroupBatchSize);
    }

    [Fact]
    public void Flat_json_with_HF_names_fills_all_three_sections()
    {
        var job = FineTuneJob.FromJson("""
            { "model_name_or_path": "distilgpt2", "train_file": "t.txt", "block_size": 128,
              "learning_rate": 2e-5, "weight_decay": 0.01, "eval_strategy": "epoch", "lr_scheduler_kwargs": { "power": 2 } }
            """);
        Assert.Equal("distilgpt2", job.Model.ModelNameOrPath);
        Assert.Equal("t.txt", job.Data.TrainFile);
        Assert.Equal(128, job.Data.BlockSize);
        Assert.Equal(2e-5, job.Training.LearningRate);
        Assert.Equal(0.01, job.Training.WeightDecay);
        Assert.Equal("epoch", job.Training.EvalStrategy);
        Assert.Equal(2.0, job.Training.LrSchedulerKwargs["power"]);
    }

    [Fact]
    public void Unknown_key_is_an_error_that_suggests_the_nearest_name()
    {
        var e = Assert.Throws<LmException>(() => FineTuneJob.FromJson("""{ "learning_rat": 1e-4 }"""));
        Assert.Equal(ErrorCodes.UnknownArgument, e.Code);
        Assert.Contains("'learning_rate'", e.Message);
    }

    [Fact]
    public void Wrong_type_names_the_argument()
    {
        var e = Assert.Throws<LmException>(() => FineTuneJob.FromJson("""{ "learning_rate": "fast" }"""));
        Assert.Equal(ErrorCodes.ArgumentTypeMismatch, e.Code);
        Assert.Contains("learning_rate", e.Message);
    }

    [Theory]
    [InlineData("""{ "train_file": "a\ud800.txt" }""", "\"train_file\" is not valid text")]
    [InlineData("""{ "train_\udc00file": "a.txt" }""", "a key is not valid text")]
    public void A_lone_surrogate_escape_is_a_type_error_not_a_crash(string json, string message)
    {
        var e = Assert.Throws<LmException>(() => FineTuneJob.FromJson(json));
        Assert.Equal(ErrorCodes.ArgumentTypeMismatch, e.Code);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Invalid_json_reports_its_line()
    {
        var e = Assert.Throws<LmException>(() => FineTuneJob.FromJson("{\n \"seed\": 1,\n \"x\" 2 }", "job.json"));
        Assert.Equal(ErrorCodes.JobConfigUnreadable, e.Code);
        Assert.Equal(3, e.Line);
    }

    [Fact]
    public void Json_round_trip_keeps_every_value_and_is_stable()
    {
        var job = FineTuneJob.FromJson("""{ "model_name_or_path": "tiny-gpt2", "num_train_epochs": 0.5, "save_total_limit": 2, "bf16": true }""");
        string json = job.ToJson();
        var again = FineTuneJob.FromJson(json);
        Assert.Equal(json, again.ToJson());
        Assert.Equal(0.5, again.Training.NumTrainEpochs);
        Assert.Equal(2, again.Training.SaveTotalLimit);
        Assert.True(again.Training.Bf16);
        Assert.Equal(FineTuneJob.Fields.Count, JsonNode.Parse(json)!.AsObject().Count);
    }

    [Theory]
    [InlineData("--learning-rate", "learning_rate")]
    [InlineData("LearningRate", "learning_rate")]
    [InlineData("per_device_train_batch_size", "per_device_train_batch_size")]
    public void Fields_are_found_by_flag_pascal_and_hf_name(string query, string expected)
    {
        Assert.Equal(expected, FineTuneJob.FindField(query)!.Name);
    }

    [Fact]
    public void Text_values_convert_by_field_kind()
    {
        Assert.Equal(0.0001, (double)FineTuneJob.FindField("learning_rate")!.ParseText("1e-4")!);
        Assert.Equal(16, (int)FineTuneJob.FindField("block_size")!.ParseText("16")!);
        Assert.True((bool)FineTuneJob.FindField("bf16")!.ParseText("True")!);
        Assert.Null(FineTuneJob.FindField("block_size")!.ParseText(""));
        var e = Assert.Throws<LmException>(() => FineTuneJob.FindField("learning_rate")!.ParseText("fast"));
        Assert.Equal(ErrorCodes.ArgumentTypeMismatch, e.Code);
        Assert.Throws<LmException>(() => FineTuneJob.FindField("num_train_epochs")!.ParseText("1.5x"));
        Assert.Throws<LmException>(() => FineTuneJob.FindField("per_device_train_batch_size")!.ParseText("2.5"));
    }

    [Theory]
    [InlineData("""{ "model_name_or_path": "m", "learning_rate": -1 }""", "learning_rate")]
    [InlineData("""{ "model_name_or_path": "m", "per_device_train_batch_size": 0 }""", "per_device_train_batch_size")]
    [InlineData("""{ "model_name_or_path": "m", "lr_scheduler_type": "cosine_annealing" }""", "lr_scheduler_type")]
    [InlineData("""{ "model_name_or_path": "m", "eval_strategy": "sometimes" }""", "eval_strategy")]
    [InlineData("""{ "model_name_or_path": "m", "mlm_probability": 1.5 }""", "mlm_probability")]
    [InlineData("""{ "model_name_or_path": "m", "block_size": 0 }""", "block_size")]
    [InlineData("""{ "model_name_or_path": "m", "num_train_epochs": 0 }""", "num_train_epochs")]
    [InlineData("""{ "model_name_or_path": "m", "load_best_model_at_end": true, "eval_strategy": "epoch" }""", "load_best_model_at_end")]
    [InlineData("""{ "learning_rate": 1e-4 }""", "model_name_or_path")]
    [InlineData("""{ "model_name_or_path": "m", "do_train": true }""", "train_file")]
    public void Validation_names_the_offending_argument(string json, string argument)
    {
        var e = Assert.Throws<LmException>(() => FineTuneJob.FromJson(json).Validate());
        Assert.Equal(ErrorCodes.InvalidArgument, e.Code);
        Assert.StartsWith(argument + " ", e.Message);
    }
}
