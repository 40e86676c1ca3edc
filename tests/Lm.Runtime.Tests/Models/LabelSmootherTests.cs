using Lm.Runtime.Errors;
using Lm.Runtime.Jobs;
using Lm.Runtime.Models;
using Lm.Runtime.Tests.Data;
using Lm.Runtime.Tests.Training;
using Lm.Runtime.Training;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Models;

[Collection(TorchRandomCollection.Name)]
public class LabelSmootherTests
{
    private const int Batch = 2, Length = 5, Vocab = 7;

    // Labels with ignored positions in both rows, and a row whose first label is ignored (it matters only unshifted).
    private static readonly long[,] Labels = { { 3, -100, 6, 0, 2 }, { -100, 1, 4, -100, 5 } };

    private static float[] Logits()
    {
        var random = new Random(11);
        return Enumerable.Range(0, Batch * Length * Vocab).Select(_ => (float)(random.NextDouble() * 6 - 3)).ToArray();
    }

    /// <summary>
    /// HF's LabelSmoother written out with doubles: for every position whose (shifted) label is not -100,
    /// nll = -log p(label) and smooth = Σ_v -log p(v); loss = (1-ε)·Σnll/n + ε·Σsmooth/(n·V).
    /// </summary>
    private static double Expected(float[] logits, double epsilon, bool shift)
    {
        double nll = 0, smooth = 0;
        int active = 0;
        for (int b = 0; b < Batch; b++)
        {
            for (int t = 0; t < (shift ? Length - 1 : Length); t++)
            {
                long label = shift ? Labels[b, t + 1] : Labels[b, t];
                if (label == -100) continue;
                var row = Enumerable.Range(0, Vocab).Select(v => (double)logits[(b * Length + t) * Vocab + v]).ToArray();
                double max = row.Max();
                double logSum = max + Math.Log(row.Sum(x => Math.Exp(x - max)));
                nll += logSum - row[label];
                smooth += row.Sum(x => logSum - x);
                active++;
            }
        }
        return (1 - epsilon) * nll / active + epsilon * smooth / (active * Vocab);
    }

    [Theory]
    [InlineData(0.1, true)]
    [InlineData(0.1, false)]
    [InlineData(0.35, true)]
    [InlineData(1.0, false)]
    public void Loss_is_HFs_label_smoothed_mean_for_causal_and_masked_LM(double epsilon, bool causal)
    {
        float[] values = Logits();
        using var logits = tensor(values, [Batch, Length, Vocab]);
        using var labels = tensor(Labels.Cast<long>().ToArray(), [Batch, Length]);

        using var loss = LabelSmoother.Loss(logits, labels, epsilon, shiftLabels: causal);

        Assert.Equal(ScalarType.Float32, loss.dtype);
        Assert.Equal(Expected(values, epsilon, causal), loss.item<float>(), 5);
    }

    [Fact]
    public void Without_smoothing_it_is_the_models_own_loss()
    {
        using var logits = tensor(Logits(), [Batch, Length, Vocab]);
        using var labels = tensor(Labels.Cast<long>().ToArray(), [Batch, Length]);
        using var causal = LabelSmoother.Loss(logits, labels, 0, shiftLabels: true);
        using var masked = LabelSmoother.Loss(logits, labels, 0, shiftLabels: false);
        using var modelCausal = LanguageModel.CausalLmLoss(logits, labels);
        using var modelMasked = LanguageModel.MaskedLmLoss(logits, labels);
        Assert.Equal(modelCausal.item<float>(), causal.item<float>(), 6);
        Assert.Equal(modelMasked.item<float>(), masked.item<float>(), 6);
    }

    [Fact]
    public void Trainer_steps_on_the_smoothed_loss_and_evaluates_with_it()
    {
        using var dir = new ScratchFolder();
        var data = MemoryBlocks.Patterned(4, 16, TrainerFixtures.Vocab, seed: 9);
        using var model = TrainerFixtures.TinyGpt2();
        var args = TrainerFixtures.Args(dir.Path, maxSteps: 1);
        args.LabelSmoothingFactor = 0.2;
        using var batch = data.Collate([0, 1, 2, 3]);
        float before;
        using (no_grad())
        {
            model.eval();
            using var output = model.Forward(batch.InputIds, batch.AttentionMask).Logits;
            using var smoothed = LabelSmoother.Loss(output, batch.Labels, 0.2, shiftLabels: true);
            before = smoothed.item<float>();
        }
        using var trainer = new Trainer(model, args, data, data);
        float? stepLoss = null;
        trainer.StepEnd += (_, e) => stepLoss = e.Loss;
        double evalBefore = new Lm.Runtime.Evaluation.Evaluator(model, data, 4, labelSmoothingFactor: 0.2).Evaluate()["eval_loss"];

        trainer.Train();

        // One batch of all four blocks, no dropout: the step's loss is the smoothed loss of the initial weights.
        Assert.Equal(before, stepLoss!.Value, 5);
        Assert.Equal(before, evalBefore, 5);
    }

    [Fact]
    public void The_argument_is_read_by_its_HF_name_and_checked()
    {
        var job = FineTuneJob.FromJson("""{ "model_name_or_path": "tiny-gpt2", "label_smoothing_factor": 0.1 }""");
        Assert.Equal(0.1, job.Training.LabelSmoothingFactor);
        Assert.Equal(0.0, new TrainingArguments().LabelSmoothingFactor);
        var e = Assert.Throws<LmException>(() => FineTuneJob.FromJson("""{ "model_name_or_path": "m", "label_smoothing_factor": 1.5 }""").Validate());
        Assert.Equal(ErrorCodes.InvalidArgument, e.Code);
        Assert.StartsWith("label_smoothing_factor ", e.Message);
    }
}
