using Lm.Runtime.Evaluation;
using Lm.Runtime.Models;
using Lm.Runtime.Tests.Reference;
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
        Assert.InRange(metrics["eval_loss"], 3.5, 4.8); // about ln(64) for an untrained model
    }

    // A table whose row a has its largest logit at (a + 1) % 8: the prediction after token a is a + 1.
    private static double[,] NextTokenTable()
    {
        var table = LookupTableModel.RandomValues(8, 31);
        for (int a = 0; a < 8; a++) table[a, (a + 1) % 8] = 5;
        return table;
    }

    [Fact]
    public void Causal_lm_accuracy_compares_each_prediction_with_the_next_token_and_the_loss_weights_batches_by_size()
    {
        // Predictions after each token but the last: [1,2,3] vs [1,2,5] → 2 hits; [5,6,7] vs [5,6,7] → 3; [0,4,4] vs [3,3,3] → 0.
        PlainExample[] examples = [new([0, 1, 2, 5], [0, 1, 2, 5]), new([4, 5, 6, 7], [4, 5, 6, 7]), new([7, 3, 3, 3], [7, 3, 3, 3])];
        var table = NextTokenTable();
        using var model = new LookupTableModel(table, TrainingObjective.CausalLm);

        var metrics = new Evaluator(model, new RecordingBatches(examples), batchSize: 2).Evaluate();

        Assert.Equal(5 / 9.0, metrics["eval_accuracy"], 12);
        int hits = examples.SelectMany(e => PlainLoop.ScoredPairs(e, causal: true)).Count(p => PlainLoop.ArgMax(table, p.Token) == p.Target);
        Assert.Equal(5, hits);
        // HF's evaluation_loop: batch [0, 1]'s mean loss counts twice, batch [2]'s once.
        double Mean(IEnumerable<PlainExample> batch) =>
            batch.SelectMany(e => PlainLoop.ScoredPairs(e, causal: true)).Average(p => PlainLoop.CrossEntropy(table, p.Token, p.Target));
        double expectedLoss = (2 * Mean(examples[..2]) + Mean(examples[2..])) / 3;
        Assert.Equal(expectedLoss, metrics["eval_loss"], 5);
    }

    [Fact]
    public void Masked_lm_accuracy_counts_only_labelled_positions()
    {
        // Labelled: after 2 → 3 (label 3, hit), after 4 → 5 (label 0, miss), after 6 → 7 (label 7, hit), after 0 → 1 (label 1, hit).
        PlainExample[] examples = [new([1, 2, 3, 4], [-100, 3, -100, 0]), new([6, 6, 0, 0], [7, -100, -100, 1])];
        var table = NextTokenTable();
        using var model = new LookupTableModel(table, TrainingObjective.MaskedLm);

        var metrics = new Evaluator(model, new RecordingBatches(examples, padId: -1), batchSize: 2).Evaluate();

        Assert.Equal(0.75, metrics["eval_accuracy"], 12);
        var pairs = examples.SelectMany(e => PlainLoop.ScoredPairs(e, causal: false)).ToList();
        Assert.Equal(pairs.Average(p => PlainLoop.CrossEntropy(table, p.Token, p.Target)), metrics["eval_loss"], 5);
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
