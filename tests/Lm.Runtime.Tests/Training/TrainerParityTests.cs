using Lm.Runtime.Errors;
using Lm.Runtime.Models;
using Lm.Runtime.Tests.Data;
using Lm.Runtime.Tests.Reference;
using Lm.Runtime.Training;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Training;

/// <summary>
/// The trainer against Hugging Face's <c>Trainer._inner_training_loop</c> (transformers 4.57) where a mistake would
/// not show in a loss curve: steps per epoch, epoch fractions, the sampler's order, partial accumulation windows and
/// the loss normalisation with unequal label counts. Expectations come from the definitions, computed in the test
/// (<see cref="PlainLoop"/>, torch's <c>randperm</c>), never from the trainer.
/// </summary>
public class TrainerParityTests
{
    private const int Vocab = 8;

    private static TrainingArguments Args(string dir) => new()
    {
        OutputDir = dir,
        PerDeviceTrainBatchSize = 4,
        LearningRate = 1e-3,
        LoggingSteps = 1,
        SaveStrategy = IntervalStrategy.No,
        ReportTo = "none",
    };

    // HF: len_dataloader = ceil(n / batch) (floor with dataloader_drop_last); num_update_steps_per_epoch =
    // len_dataloader // gas + int(len_dataloader % gas > 0); max_steps = ceil(num_train_epochs * that);
    // state.epoch = epoch + (step + 1) / steps_in_epoch after each optimizer step.
    [Theory]
    [InlineData(false, new[] { 4, 4, 2, 4, 4, 2 }, new[] { 1 / 3.0, 2 / 3.0, 1.0, 1 + 1 / 3.0, 1 + 2 / 3.0, 2.0 })]
    [InlineData(true, new[] { 4, 4, 4, 4 }, new[] { 0.5, 1.0, 1.5, 2.0 })]
    public void Num_train_epochs_gives_the_steps_per_epoch_and_the_logged_epoch_fractions(bool dropLast, int[] batchSizes, double[] epochs)
    {
        using var dir = new ScratchFolder();
        var data = RecordingBatches.Blocks(10, 6, Vocab, seed: 1);
        using var model = new LookupTableModel(LookupTableModel.RandomValues(Vocab, 1), TrainingObjective.CausalLm);
        var args = Args(dir.Path);
        args.NumTrainEpochs = 2;
        args.DataloaderDropLast = dropLast;
        using var trainer = new Trainer(model, args, data);

        var output = trainer.Train();

        Assert.Equal(batchSizes.Length, output.GlobalStep);
        Assert.Equal(batchSizes.Length, trainer.State.MaxSteps);
        Assert.Equal(batchSizes, data.Requests.Select(r => r.Length));
        var stepLogs = trainer.State.LogHistory.Where(e => e.Values.ContainsKey("loss")).ToList();
        Assert.Equal(Enumerable.Range(1, batchSizes.Length), stepLogs.Select(e => e.Step));
        Assert.Equal(epochs, stepLogs.Select(e => e["epoch"]));
        Assert.Equal(2.0, trainer.State.LogHistory[^1]["epoch"]);
        if (dropLast)
        {
            // The two examples left at the end of each epoch's permutation are never drawn.
            for (int epoch = 0; epoch < 2; epoch++)
            {
                int[] drawn = data.Requests.Skip(2 * epoch).Take(2).SelectMany(r => r).ToArray();
                Assert.Equal(Permutation(10, 42 + epoch).Take(8), drawn);
            }
        }
    }

    [Fact]
    public void Fractional_num_train_epochs_rounds_the_step_count_up_and_stops_inside_the_last_epoch()
    {
        using var dir = new ScratchFolder();
        var data = RecordingBatches.Blocks(10, 6, Vocab, seed: 2);
        using var model = new LookupTableModel(LookupTableModel.RandomValues(Vocab, 2), TrainingObjective.CausalLm);
        var args = Args(dir.Path);
        args.NumTrainEpochs = 1.5; // 3 steps per epoch: ceil(1.5 * 3) = 5 steps, num_train_epochs = ceil(1.5) = 2

        var output = new Trainer(model, args, data).Train();

        Assert.Equal(5, output.GlobalStep);
        Assert.Equal(new[] { 4, 4, 2, 4, 4 }, data.Requests.Select(r => r.Length));
        Assert.Equal(1 + 2 / 3.0, output.Metrics["epoch"]);
    }

    // accelerate's SeedableRandomSampler (what Trainer's RandomSampler becomes): before each epoch its generator is
    // seeded with data_seed (or seed) + epoch, then RandomSampler yields torch.randperm(n, generator=generator).
    [Theory]
    [InlineData(null, 42)]
    [InlineData(7, 7)]
    public void Each_epoch_draws_the_examples_in_the_order_of_randperm_seeded_with_the_data_seed_plus_the_epoch(int? dataSeed, int expectedSeed)
    {
        using var dir = new ScratchFolder();
        var data = RecordingBatches.Blocks(10, 6, Vocab, seed: 3);
        using var model = new LookupTableModel(LookupTableModel.RandomValues(Vocab, 3), TrainingObjective.CausalLm);
        var args = Args(dir.Path);
        args.NumTrainEpochs = 3;
        args.DataSeed = dataSeed;

        new Trainer(model, args, data).Train();

        int[] drawn = data.Requests.SelectMany(r => r).ToArray();
        int[] expected = Enumerable.Range(0, 3).SelectMany(epoch => Permutation(10, expectedSeed + epoch)).ToArray();
        Assert.Equal(expected, drawn);
    }

    [Fact]
    public void Torch_randperm_with_seed_42_is_the_permutation_PyTorch_prints()
    {
        // torch.randperm(10, generator=torch.Generator().manual_seed(42)) in Python (see Reference/README.md).
        Assert.Equal(new[] { 2, 6, 1, 8, 4, 5, 0, 9, 3, 7 }, Permutation(10, 42));
    }

    // HF: remainder = steps_in_epoch % gas (gas when 0); the last update of the epoch takes `remainder` batches, and
    // num_items_in_batch counts only that window's labels, so it is not divided by gradient_accumulation_steps.
    [Fact]
    public void A_partial_last_window_steps_and_is_normalised_by_its_own_label_count()
    {
        using var dir = new ScratchFolder();
        var data = new RecordingBatches(MaskedExamples(5, seed: 4));
        using var model = new LookupTableModel(LookupTableModel.RandomValues(Vocab, 4), TrainingObjective.MaskedLm);
        var args = Args(dir.Path);
        args.PerDeviceTrainBatchSize = 1;
        args.GradientAccumulationSteps = 2;
        args.NumTrainEpochs = 1;
        var run = TrainRecording(model, args, data);

        Assert.Equal(3, run.Trainer.State.GlobalStep);
        Assert.Equal(new[] { 2, 2, 1 }, run.Windows.Select(w => w.Count));
        Assert.Equal(new[] { 0.4, 0.8, 1.0 }, run.Logs.Select(e => e["epoch"]));
        AssertStepsMatchThePlainLoop(run, causal: false);
    }

    // HF ≥ 4.46: each micro-batch's summed loss is divided by the labels of the whole accumulation window
    // (num_items_in_batch), so a window equals one big batch; the older per-micro-batch mean divided by
    // gradient_accumulation_steps gives other numbers when the micro-batches hold different label counts.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Unequal_label_counts_are_normalised_by_the_labels_of_the_whole_window(bool causal)
    {
        using var dir = new ScratchFolder();
        var (model, run) = TrainUnequalWindows(dir.Path, causal, seed: 5, maxSteps: 2);
        using var _ = model;

        Assert.Equal(new[] { 4, 4 }, run.Windows.Select(w => w.Count));
        AssertStepsMatchThePlainLoop(run, causal);
        // The data tells the two normalisations apart: the per-micro-batch mean is visibly different.
        var firstWindow = run.Windows[0];
        double perBatchMean = new[] { firstWindow.Take(2).ToList(), firstWindow.Skip(2).ToList() }
            .Average(half => PlainLoop.Window(run.TablesBefore[0], half, causal).Loss);
        Assert.True(Math.Abs(perBatchMean - PlainLoop.Window(run.TablesBefore[0], firstWindow, causal).Loss) > 1e-2,
            "the fixture's micro-batches hold too similar label counts to tell the normalisations apart");
    }

    // AdamW's first update is -lr · g / (|g| + eps): with the default eps it is about -lr · sign(g), so the test above
    // pins each gradient entry's sign and, through grad_norm, only the norm of the whole. With eps = 1 and lr = 1
    // the update is -g / (|g| + 1), close to -g itself, so every entry of the window's gradient shows in the weights:
    // a gradient scaled per micro-batch, or normalised per micro-batch as before transformers 4.46, moves them elsewhere.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_large_epsilon_makes_the_first_update_show_every_gradient_entry_of_the_window(bool causal)
    {
        using var dir = new ScratchFolder();
        var (model, run) = TrainUnequalWindows(dir.Path, causal, seed: 7, maxSteps: 1, args =>
        {
            args.LearningRate = 1;
            args.AdamEpsilon = 1;
            args.MaxGradNorm = 0; // no clipping (HF skips it at 0): the update is the gradient's own
        });
        using var _ = model;

        var window = run.Windows.Single();
        var table = run.TablesBefore[0];
        var (_, gradient) = PlainLoop.Window(table, window, causal);
        // The older normalisation: each micro-batch's mean loss, divided by gradient_accumulation_steps.
        var (_, firstHalf) = PlainLoop.Window(table, window.Take(2).ToList(), causal);
        var (_, secondHalf) = PlainLoop.Window(table, window.Skip(2).ToList(), causal);
        double largestGap = 0;
        for (int i = 0; i < Vocab; i++)
        {
            for (int j = 0; j < Vocab; j++)
            {
                static double Update(double g) => -g / (Math.Abs(g) + 1);
                double actual = run.TablesAfter[0][i, j] - table[i, j];
                Assert.True(Math.Abs(actual - Update(gradient[i, j])) <= 1e-6,
                    $"table[{i},{j}] moved {actual}, expected {Update(gradient[i, j])} (gradient {gradient[i, j]})");
                largestGap = Math.Max(largestGap, Math.Abs(Update(gradient[i, j]) - Update((firstHalf[i, j] + secondHalf[i, j]) / 2)));
            }
        }
        Assert.True(largestGap > 1e-3, $"the per-micro-batch mean would move the table by at most {largestGap} elsewhere: the fixture cannot tell them apart");
    }

    [Fact]
    public void A_training_set_smaller_than_one_batch_with_dataloader_drop_last_is_LM0414()
    {
        using var dir = new ScratchFolder();
        var data = RecordingBatches.Blocks(3, 6, Vocab, seed: 6);
        using var model = new LookupTableModel(LookupTableModel.RandomValues(Vocab, 6), TrainingObjective.CausalLm);
        var args = Args(dir.Path);
        args.DataloaderDropLast = true;

        var error = Assert.Throws<LmException>(() => new Trainer(model, args, data).Train());

        Assert.Equal(ErrorCodes.NoTrainingData, error.Code);
        Assert.Equal("LM0414", error.Code);
        Assert.Contains("dataloader_drop_last", error.Message);
        Assert.Empty(data.Requests);
    }

    /// <summary>
    /// Trains windows of two micro-batches of two examples whose label counts differ (masked LM, or right-padded
    /// causal LM) for <paramref name="maxSteps"/> steps; <paramref name="configure"/> changes the arguments first.
    /// </summary>
    private static (LookupTableModel Model, RecordedRun Run) TrainUnequalWindows(string dir, bool causal, int seed, int maxSteps,
        Action<TrainingArguments>? configure = null)
    {
        var data = new RecordingBatches(causal ? PaddedCausalExamples(8, seed) : MaskedExamples(8, seed));
        var model = new LookupTableModel(LookupTableModel.RandomValues(Vocab, seed),
            causal ? TrainingObjective.CausalLm : TrainingObjective.MaskedLm);
        var args = Args(dir);
        args.PerDeviceTrainBatchSize = 2;
        args.GradientAccumulationSteps = 2;
        args.MaxSteps = maxSteps;
        configure?.Invoke(args);
        return (model, TrainRecording(model, args, data));
    }

    private sealed record RecordedRun(Trainer Trainer, List<List<PlainExample>> Windows, List<double[,]> TablesBefore,
        List<double[,]> TablesAfter, List<float> StepLosses, List<LogEntry> Logs, TrainingArguments Args);

    /// <summary>Trains, snapshotting the table before and after every optimizer step and grouping the drawn examples into windows.</summary>
    private static RecordedRun TrainRecording(LookupTableModel model, TrainingArguments args, RecordingBatches data)
    {
        var trainer = new Trainer(model, args, data);
        List<double[,]> before = [], after = [];
        var losses = new List<float>();
        var windows = new List<List<PlainExample>>();
        int consumed = 0;
        trainer.StepBegin += (_, _) => before.Add(model.Values());
        trainer.StepEnd += (_, e) =>
        {
            after.Add(model.Values());
            losses.Add(e.Loss!.Value);
            windows.Add(data.Requests.Skip(consumed).SelectMany(r => r).Select(i => data.Examples[i]).ToList());
            consumed = data.Requests.Count;
        };
        trainer.Train();
        var logs = trainer.State.LogHistory.Where(e => e.Values.ContainsKey("loss")).ToList();
        return new RecordedRun(trainer, windows, before, after, losses, logs, args);
    }

    /// <summary>
    /// Each step's loss, logged loss and grad_norm against the plain-loop window loss and gradient at the table the
    /// step started from; and the first AdamW update, whose direction is the clipped gradient's:
    /// <c>-lr · g / (|g| + eps)</c> per entry (bias-corrected moments of one step are g and g²).
    /// </summary>
    private static void AssertStepsMatchThePlainLoop(RecordedRun run, bool causal)
    {
        for (int step = 0; step < run.Windows.Count; step++)
        {
            var (loss, gradient) = PlainLoop.Window(run.TablesBefore[step], run.Windows[step], causal);
            double norm = PlainLoop.Norm(gradient);
            Assert.True(Math.Abs(run.StepLosses[step] - loss) <= 1e-5 * loss, $"step {step + 1}: loss {run.StepLosses[step]}, expected {loss}");
            Assert.Equal(Math.Round(loss, 4), run.Logs[step]["loss"], 4);
            Assert.True(Math.Abs(run.Logs[step]["grad_norm"] - norm) <= 1e-5 * norm, $"step {step + 1}: grad_norm {run.Logs[step]["grad_norm"]}, expected {norm}");
        }
        var (_, g) = PlainLoop.Window(run.TablesBefore[0], run.Windows[0], causal);
        double clip = Math.Min(1, run.Args.MaxGradNorm / (PlainLoop.Norm(g) + 1e-6));
        for (int i = 0; i < Vocab; i++)
        {
            for (int j = 0; j < Vocab; j++)
            {
                double clipped = g[i, j] * clip;
                double expected = -run.Args.LearningRate * clipped / (Math.Abs(clipped) + run.Args.AdamEpsilon);
                double actual = run.TablesAfter[0][i, j] - run.TablesBefore[0][i, j];
                Assert.True(Math.Abs(actual - expected) <= 2e-6, $"table[{i},{j}] moved {actual}, expected {expected}");
            }
        }
    }

    /// <summary>torch.randperm(n) from a generator seeded with <paramref name="seed"/>, as the sampler draws it.</summary>
    private static int[] Permutation(int n, long seed)
    {
        using var generator = new Generator((ulong)seed);
        using var permutation = randperm(n, generator: generator);
        return permutation.data<long>().Select(i => (int)i).ToArray();
    }

    /// <summary>Masked LM examples of 8 tokens; example i predicts a different number of positions (1 to 8).</summary>
    private static List<PlainExample> MaskedExamples(int count, int seed)
    {
        var random = new Random(seed);
        int[] labelled = [1, 7, 2, 8, 3, 6, 1, 5];
        var examples = new List<PlainExample>();
        for (int i = 0; i < count; i++)
        {
            int[] ids = Enumerable.Range(0, 8).Select(_ => random.Next(Vocab)).ToArray();
            var positions = Enumerable.Range(0, 8).OrderBy(_ => random.Next()).Take(labelled[i % labelled.Length]).ToHashSet();
            int[] labels = Enumerable.Range(0, 8).Select(t => positions.Contains(t) ? random.Next(Vocab) : PlainLoop.Ignore).ToArray();
            examples.Add(new PlainExample(ids, labels));
        }
        return examples;
    }

    /// <summary>Causal LM examples of 8 positions right-padded with id 0 (labels -100 there); real lengths 2 to 8.</summary>
    private static List<PlainExample> PaddedCausalExamples(int count, int seed)
    {
        var random = new Random(seed);
        int[] lengths = [2, 8, 3, 8, 2, 7, 4, 8];
        var examples = new List<PlainExample>();
        for (int i = 0; i < count; i++)
        {
            int length = lengths[i % lengths.Length];
            int[] ids = Enumerable.Range(0, 8).Select(t => t < length ? 1 + random.Next(Vocab - 1) : 0).ToArray();
            int[] labels = ids.Select((id, t) => t < length ? id : PlainLoop.Ignore).ToArray();
            examples.Add(new PlainExample(ids, labels));
        }
        return examples;
    }
}
