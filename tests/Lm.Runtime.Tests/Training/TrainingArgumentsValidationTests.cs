using Lm.Runtime.Errors;
using Lm.Runtime.Training;

namespace Lm.Runtime.Tests.Training;

public class TrainingArgumentsValidationTests
{
    [Theory]
    [InlineData("logging_steps")]
    [InlineData("save_steps")]
    [InlineData("eval_steps")]
    public void Step_counts_above_one_must_be_whole(string name)
    {
        var args = new TrainingArguments();
        switch (name)
        {
            case "logging_steps": args.LoggingSteps = 2.5; break;
            case "save_steps": args.SaveSteps = 10.5; break;
            default: args.EvalSteps = 3.5; break;
        }

        var error = Assert.Throws<LmException>(args.Validate);

        Assert.Equal(ErrorCodes.InvalidArgument, error.Code);
        Assert.StartsWith(name, error.Message);
    }

    [Fact]
    public void Ratios_below_one_are_allowed_and_become_step_counts()
    {
        var args = new TrainingArguments { LoggingSteps = 0.25, SaveSteps = 0.5, EvalStrategy = IntervalStrategy.Steps };
        args.Validate();
        var state = new TrainerState();

        state.ComputeSteps(args, maxSteps: 10);

        Assert.Equal((3, 3, 5), (state.LoggingSteps, state.EvalSteps, state.SaveSteps));
    }

    [Fact]
    public void Load_best_model_at_end_needs_saves_on_evaluated_steps()
    {
        var args = new TrainingArguments
        {
            LoadBestModelAtEnd = true, EvalStrategy = IntervalStrategy.Steps, EvalSteps = 30, SaveStrategy = IntervalStrategy.Steps, SaveSteps = 50,
        };

        var error = Assert.Throws<LmException>(args.Validate);

        Assert.Contains("save_steps", error.Message);
    }

    [Fact]
    public void Best_model_metric_defaults_follow_HF()
    {
        Assert.Null(new TrainingArguments().EffectiveMetricForBestModel);
        var best = new TrainingArguments { LoadBestModelAtEnd = true };
        Assert.Equal("loss", best.EffectiveMetricForBestModel);
        Assert.False(best.EffectiveGreaterIsBetter);
        Assert.True(new TrainingArguments { MetricForBestModel = "accuracy" }.EffectiveGreaterIsBetter);
    }
}
