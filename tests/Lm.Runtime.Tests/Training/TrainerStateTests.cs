using Lm.Runtime.Errors;
using Lm.Runtime.Evaluation;
using Lm.Runtime.Tests.Data;
using Lm.Runtime.Training;

namespace Lm.Runtime.Tests.Training;

public class TrainerStateTests
{
    [Fact]
    public void State_is_written_as_Python_json_dumps_with_sorted_keys_and_float_values()
    {
        var state = new TrainerState { Epoch = 1.0, GlobalStep = 4, MaxSteps = 4, TotalFlos = 12345, TrainBatchSize = 8 };
        state.LogHistory.Add(new LogEntry(4, [KeyValuePair.Create("loss", 2.5), KeyValuePair.Create("learning_rate", 5e-05), KeyValuePair.Create("epoch", 1.0)]));

        string json = state.ToJson();

        Assert.Contains("  \"epoch\": 1.0,\n", json);
        Assert.Contains("      \"learning_rate\": 5e-05,\n      \"loss\": 2.5,\n      \"step\": 4\n", json);
        Assert.Contains("  \"total_flos\": 12345.0,\n", json);
        Assert.Contains("  \"best_metric\": null,\n", json);
        Assert.EndsWith("}\n", json);
    }

    [Fact]
    public void Epoch_is_the_int_0_before_the_first_step_as_in_HF()
    {
        var state = new TrainerState { Epoch = 0 };
        state.LogHistory.Add(new LogEntry(0, [KeyValuePair.Create("eval_loss", 4.5), KeyValuePair.Create("epoch", 0.0)]));

        string json = state.ToJson();

        Assert.Contains("  \"epoch\": 0,\n", json);
        Assert.Contains("      \"epoch\": 0,\n", json);
    }

    [Fact]
    public void State_round_trips_through_its_file()
    {
        using var dir = new ScratchFolder();
        var state = new TrainerState { Epoch = 0.75, GlobalStep = 3, BestMetric = 1.25, BestGlobalStep = 2, BestModelCheckpoint = "out/checkpoint-2" };
        state.LogHistory.Add(new LogEntry(3, [KeyValuePair.Create("eval_loss", 1.25)]));
        string path = Path.Combine(dir.Path, "trainer_state.json");
        File.WriteAllText(path, state.ToJson());

        var loaded = TrainerState.Load(path);

        Assert.Equal(state.ToJson(), loaded.ToJson());
    }

    [Theory]
    [InlineData(2.03125, 4, 2.0312)]   // exact tie: to even
    [InlineData(2.09375, 4, 2.0938)]   // exact tie: to even (up)
    [InlineData(3.14159265, 4, 3.1416)]
    [InlineData(0.00005, 4, 0.0001)]   // 5e-05 is slightly above the tie in binary
    [InlineData(-1.23455, 3, -1.235)]
    [InlineData(12.3456789, 3, 12.346)]
    public void Python_round_rounds_the_exact_binary_value_with_ties_to_even(double value, int digits, double expected) =>
        Assert.Equal(expected, SpeedMetrics.PythonRound(value, digits));
}

public class TrainerStateValidationTests
{
    private static LmException LoadFails(string json)
    {
        using var dir = new ScratchFolder();
        string path = Path.Combine(dir.Path, "trainer_state.json");
        File.WriteAllText(path, json);
        var error = Assert.Throws<LmException>(() => TrainerState.Load(path));
        Assert.Equal(ErrorCodes.TrainerStateInvalid, error.Code);
        Assert.Equal(path, error.File);
        Assert.StartsWith(path + ": ", error.Message);
        return error;
    }

    [Theory]
    [InlineData("""{"global_step": -5}""", "\"global_step\" must be between 0")]
    [InlineData("""{"global_step": "5"}""", "\"global_step\" must be a whole number")]
    [InlineData("""{"global_step": 1e20}""", "\"global_step\" must be")]
    [InlineData("""{"epoch": -1.0}""", "\"epoch\" must be between 0")]
    [InlineData("""{"epoch": 1e400}""", "\"epoch\" must be")]
    [InlineData("""{"train_batch_size": 0}""", "\"train_batch_size\" must be between 1")]
    [InlineData("""{"best_model_checkpoint": 3}""", "\"best_model_checkpoint\" must be a string")]
    [InlineData("""{"log_history": [{"step": -1}]}""", "\"log_history[0].step\" must be between 0")]
    [InlineData("""{"log_history": [3]}""", "\"log_history[0]\" must be an object")]
    [InlineData("""{"stateful_callbacks": []}""", "\"stateful_callbacks\" must be an object")]
    [InlineData("""[1, 2]""", "expected a JSON object")]
    public void Values_out_of_type_or_range_are_LM0430_naming_the_key(string json, string message)
    {
        Assert.Contains(message, LoadFails(json).Message);
    }
}
