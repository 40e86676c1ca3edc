using Lm.Runtime.Errors;
using Lm.Runtime.Training;

namespace Lm.Runtime.Tests.Training;

public class LrSchedulesTests
{
    /// <summary>
    /// Learning rates of optimizer steps 0..11 for learning_rate 1e-3, 3 warmup steps of 10, read from torch's
    /// LambdaLR (torch 1.13) driving HF's schedule formulas (transformers/optimization.py). The "_2" and "_p2" rows
    /// use num_cycles=2, and lr_end=1e-5 with power=2.
    /// </summary>
    [Theory]
    [InlineData("linear", new[] { 0.0, 0.0003333333333333333, 0.0006666666666666666, 0.001, 0.0008571428571428571, 0.0007142857142857143, 0.0005714285714285714, 0.00042857142857142855, 0.0002857142857142857, 0.00014285714285714284, 0.0, 0.0 })]
    [InlineData("cosine", new[] { 0.0, 0.0003333333333333333, 0.0006666666666666666, 0.001, 0.0009504844339512095, 0.0008117449009293668, 0.0006112604669781572, 0.00038873953302184284, 0.00018825509907063325, 4.9515566048790485e-05, 0.0, 4.951556604879043e-05 })]
    [InlineData("cosine_with_restarts", new[] { 0.0, 0.0003333333333333333, 0.0006666666666666666, 0.001, 0.0009504844339512095, 0.0008117449009293668, 0.0006112604669781572, 0.00038873953302184284, 0.00018825509907063325, 4.9515566048790485e-05, 0.0, 0.0 })]
    [InlineData("cosine_with_restarts_2", new[] { 0.0, 0.0003333333333333333, 0.0006666666666666666, 0.001, 0.0008117449009293668, 0.00038873953302184284, 4.9515566048790485e-05, 0.0009504844339512096, 0.0006112604669781572, 0.00018825509907063342, 0.0, 0.0 })]
    [InlineData("polynomial", new[] { 0.0, 0.0003333333333333333, 0.0006666666666666666, 0.001, 0.0008571571428571429, 0.0007143142857142856, 0.0005714714285714285, 0.00042862857142857147, 0.0002857857142857143, 0.0001429428571428572, 1e-07, 1e-07 })]
    [InlineData("polynomial_p2", new[] { 0.0, 0.0003333333333333333, 0.0006666666666666666, 0.001, 0.0007373469387755104, 0.0005151020408163266, 0.00033326530612244897, 0.0001918367346938776, 9.081632653061223e-05, 3.0204081632653075e-05, 1e-05, 1e-05 })]
    [InlineData("constant", new[] { 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001 })]
    [InlineData("constant_with_warmup", new[] { 0.0, 0.0003333333333333333, 0.0006666666666666666, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001 })]
    public void Learning_rate_per_step_equals_HF_schedule_under_LambdaLR(string name, double[] expected)
    {
        var args = new TrainingArguments { LearningRate = 1e-3, WarmupSteps = 3, LrSchedulerType = name.Split('_')[^1] switch
        {
            "2" => SchedulerType.CosineWithRestarts,
            "p2" => SchedulerType.Polynomial,
            _ => name,
        } };
        if (name == "cosine_with_restarts_2") args.LrSchedulerKwargs["num_cycles"] = 2;
        if (name == "polynomial_p2") { args.LrSchedulerKwargs["lr_end"] = 1e-5; args.LrSchedulerKwargs["power"] = 2; }
        var scheduler = new LrScheduler(args, totalSteps: 10);

        var actual = new List<double>();
        for (int step = 0; step < expected.Length; step++)
        {
            actual.Add(scheduler.LearningRate);
            scheduler.Step();
        }

        for (int step = 0; step < expected.Length; step++)
            Assert.True(Math.Abs(expected[step] - actual[step]) <= 1e-18, $"step {step}: expected {expected[step]:R}, got {actual[step]:R}");
    }

    [Theory]
    [InlineData(0, 0.1, 95, 10)]
    [InlineData(0, 0.0, 95, 0)]
    [InlineData(7, 0.5, 95, 7)]
    [InlineData(0, 0.01, 95, 1)]
    public void Warmup_steps_are_warmup_steps_or_the_ceiling_of_the_ratio(int steps, double ratio, int total, int expected)
    {
        var args = new TrainingArguments { WarmupSteps = steps, WarmupRatio = ratio };
        Assert.Equal(expected, LrSchedules.WarmupSteps(args, total));
    }

    [Fact]
    public void With_warmup_the_first_step_uses_a_zero_learning_rate()
    {
        var scheduler = new LrScheduler(new TrainingArguments { LearningRate = 5e-5, WarmupSteps = 2 }, totalSteps: 8);
        Assert.Equal(0.0, scheduler.LearningRate);
        scheduler.Step();
        Assert.Equal(2.5e-5, scheduler.LearningRate);
    }

    [Fact]
    public void Polynomial_rejects_an_end_rate_above_the_learning_rate()
    {
        var args = new TrainingArguments { LearningRate = 1e-8, LrSchedulerType = SchedulerType.Polynomial };
        var error = Assert.Throws<LmException>(() => new LrScheduler(args, 10));
        Assert.Equal(ErrorCodes.InvalidArgument, error.Code);
        Assert.Contains("lr_end", error.Message);
    }

    [Fact]
    public void Unknown_scheduler_kwargs_are_rejected_with_the_argument_name()
    {
        var args = new TrainingArguments { LrSchedulerType = SchedulerType.Linear };
        args.LrSchedulerKwargs["num_cycles"] = 3;
        var error = Assert.Throws<LmException>(() => new LrScheduler(args, 10));
        Assert.Contains("lr_scheduler_kwargs", error.Message);
        Assert.Contains("num_cycles", error.Message);
    }

    [Fact]
    public void Scheduler_state_round_trips_and_refuses_a_different_schedule()
    {
        var args = new TrainingArguments { LearningRate = 1e-3, WarmupSteps = 2, LrSchedulerType = SchedulerType.Cosine };
        var scheduler = new LrScheduler(args, 20);
        for (int i = 0; i < 7; i++) scheduler.Step();

        var restored = new LrScheduler(args, 20);
        restored.Load(scheduler.ToJson(), "scheduler.json");
        Assert.Equal(7, restored.StepCount);
        Assert.Equal(scheduler.LearningRate, restored.LearningRate);

        var other = new LrScheduler(args, 30);
        var error = Assert.Throws<LmException>(() => other.Load(scheduler.ToJson(), "scheduler.json"));
        Assert.Equal(ErrorCodes.CheckpointInvalid, error.Code);
    }
}
