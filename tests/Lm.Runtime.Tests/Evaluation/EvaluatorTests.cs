using Lm.Runtime.Evaluation;
using Lm.Runtime.Tests.Training;

namespace Lm.Runtime.Tests.Evaluation;

public class EvaluatorTests
{
    [Fact]
    public void Eval_loss_weights_each_batch_loss_by_its_size()
    {
        var data = MemoryBlocks.Patterned(7, 16, TrainerFixtures.Vocab, seed: 21);
        using var model = TrainerFixtures.TinyGpt2();

        double batchedLoss = new Evaluator(model, data, batchSize: 3).Evaluate()["eval_loss"];

        // Batches [0..2], [3..5], [6]: each batch's mean loss, repeated once per example, as HF's evaluation_loop.
        double Loss(int start, int count) =>
            new Evaluator(model, Subset(data, start, count), batchSize: count).Evaluate()["eval_loss"];
        double expected = (3 * Loss(0, 3) + 3 * Loss(3, 3) + 1 * Loss(6, 1)) / 7;
        Assert.Equal(expected, batchedLoss, 6);
    }

    [Fact]
    public void A_NaN_weight_is_LM0123_instead_of_a_NaN_eval_loss()
    {
        var data = MemoryBlocks.Patterned(3, 16, TrainerFixtures.Vocab, seed: 23);
        using var model = TrainerFixtures.TinyGpt2();
        using (TorchSharp.torch.no_grad()) model.StateDict()["transformer.ln_f.weight"][0] = TorchSharp.torch.tensor(float.NaN);

        var error = Assert.Throws<Lm.Runtime.Errors.LmException>(() => new Evaluator(model, data, batchSize: 2).Evaluate());
        Assert.Equal(Lm.Runtime.Errors.ErrorCodes.ModelOutputNotFinite, error.Code);
    }

    [Fact]
    public void Metrics_are_HF_names_with_speed_and_accuracy()
    {
        var data = MemoryBlocks.Patterned(5, 16, TrainerFixtures.Vocab, seed: 22);
        using var model = TrainerFixtures.TinyGpt2();

        var metrics = new Evaluator(model, data, batchSize: 2).Evaluate();

        Assert.Equal(new[] { "eval_accuracy", "eval_loss", "eval_runtime", "eval_samples_per_second", "eval_steps_per_second" },
            metrics.Keys.Order(StringComparer.Ordinal));
        Assert.InRange(metrics["eval_accuracy"], 0, 1);
        Assert.InRange(metrics["eval_loss"], 3.5, 4.8); // about ln(64) for an untrained model
    }

    [Theory]
    [InlineData(2.0, 7.38905609893065)]
    [InlineData(1000.0, double.PositiveInfinity)]
    public void Perplexity_is_exp_of_the_loss_and_infinite_on_overflow(double loss, double expected) =>
        Assert.Equal(expected, Evaluator.Perplexity(loss), 12);

    private static MemoryBlocks Subset(MemoryBlocks data, int start, int count)
    {
        var blocks = new int[count][];
        for (int i = 0; i < count; i++)
        {
            using var batch = data.Collate([start + i]);
            blocks[i] = batch.InputIds.data<long>().Select(v => (int)v).ToArray();
        }
        return new MemoryBlocks(blocks);
    }
}
