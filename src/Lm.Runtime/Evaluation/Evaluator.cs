using System.Diagnostics;
using Lm.Runtime.Data;
using Lm.Runtime.Errors;
using Lm.Runtime.Models;
using Lm.Runtime.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Evaluation;

/// <summary>
/// HF's <c>Trainer.evaluate()</c> for the tutorial's metrics, in order, one batch of <c>per_device_eval_batch_size</c>
/// examples at a time (sequential, last batch smaller):
/// <list type="bullet">
/// <item><c>eval_loss</c>: each batch's mean loss (the model's loss: shifted for causal LM, masked positions for
/// masked LM) weighted by the batch's size, as HF's <c>evaluation_loop</c> repeats each batch loss
/// <c>batch_size</c> times and <c>gather_for_metrics</c> trims the last batch;</item>
/// <item><c>eval_accuracy</c>: run_clm.py's metric (argmax predictions against the next token at every position)
/// or run_mlm.py's (argmax against labels that are not -100);</item>
/// <item><c>eval_runtime</c>, <c>eval_samples_per_second</c>, <c>eval_steps_per_second</c> as HF's <c>speed_metrics</c>.</item>
/// </list>
/// Masked LM evaluation restores the collator's generator to the state it had when the evaluator was created before
/// every run, so two evaluations of the same model see the same masks.
/// </summary>
public sealed class Evaluator
{
    private readonly LanguageModel _model;
    private readonly IBatchSource _data;
    private readonly int _batchSize;
    private readonly Device? _device;
    private readonly Tensor? _initialRandomState;
    private readonly double _labelSmoothingFactor;

    /// <summary>Evaluates <paramref name="model"/> on <paramref name="data"/>; with a <paramref name="labelSmoothingFactor"/> other than 0 the loss is <see cref="LabelSmoother"/>'s, as HF's Trainer evaluates.</summary>
    public Evaluator(LanguageModel model, IBatchSource data, int batchSize, Device? device = null, double labelSmoothingFactor = 0)
    {
        if (batchSize <= 0) throw new LmException(ErrorCodes.InvalidArgument, $"per_device_eval_batch_size must be positive, got {batchSize}");
        _model = model;
        _data = data;
        _batchSize = batchSize;
        _device = device;
        _labelSmoothingFactor = labelSmoothingFactor;
        _initialRandomState = data.GetRandomState()?.clone().DetachFromDisposeScope();
    }

    /// <summary>Number of evaluation examples (run_clm.py's <c>eval_samples</c>).</summary>
    public int SampleCount => _data.Count;

    /// <summary>
    /// Evaluates the model and returns the metrics with <paramref name="prefix"/> (<c>eval_loss</c>, ...). The model
    /// is left in eval mode; callers that train switch it back. Cancelling <paramref name="cancellation"/> stops
    /// before the next batch with an <see cref="OperationCanceledException"/>.
    /// </summary>
    public Dictionary<string, double> Evaluate(string prefix = "eval", CancellationToken cancellation = default)
    {
        if (_data.Count == 0)
            throw new LmException(ErrorCodes.NoTrainingData, "the evaluation data has no examples; give a larger validation file or a smaller block_size");
        var clock = Stopwatch.StartNew();
        if (_initialRandomState is not null) _data.SetRandomState(_initialRandomState);
        _model.eval();
        double weightedLoss = 0;
        long correct = 0, predicted = 0;
        int batches = 0;
        using (no_grad())
        {
            for (int start = 0; start < _data.Count; start += _batchSize)
            {
                cancellation.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                int count = Math.Min(_batchSize, _data.Count - start);
                using var batch = Collate(start, count);
                var output = _model.Forward(batch.InputIds, batch.AttentionMask);
                var loss = _labelSmoothingFactor != 0
                    ? LabelSmoother.Loss(output.Logits, batch.Labels, _labelSmoothingFactor, _model.Objective == TrainingObjective.CausalLm)
                    : _model.Objective == TrainingObjective.CausalLm
                        ? LanguageModel.CausalLmLoss(output.Logits, batch.Labels)
                        : LanguageModel.MaskedLmLoss(output.Logits, batch.Labels);
                float batchLoss = loss.item<float>();
                // Non-finite logits would end as eval_loss NaN (null in JSON) and exit 0. Only a loss that is not
                // finite needs the look at the logits: a masked-LM batch without masked positions gives HF's NaN loss
                // from finite ones.
                if (!float.IsFinite(batchLoss))
                    LanguageModel.RequireFiniteLogits(output.Logits, ", so the evaluation loss is not a number");
                // HF keeps the batch loss in float32 and repeats it once per example of the batch.
                weightedLoss += batchLoss * (double)count;
                var (hits, total) = Accuracy(output.Logits, batch.Labels);
                correct += hits;
                predicted += total;
                batches++;
            }
        }
        double runtime = clock.Elapsed.TotalSeconds;
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal)
        {
            [$"{prefix}_loss"] = (float)(weightedLoss / _data.Count),
        };
        if (predicted > 0) metrics[$"{prefix}_accuracy"] = (double)correct / predicted;
        foreach (var (key, value) in SpeedMetrics.Compute(prefix, runtime, _data.Count, (int)Math.Ceiling(_data.Count / (double)_batchSize)))
            metrics[key] = value;
        return metrics;
    }

    /// <summary>run_clm.py's perplexity: <c>exp(eval_loss)</c>, infinity when it overflows.</summary>
    public static double Perplexity(double evalLoss) => Math.Exp(evalLoss);

    private Batch Collate(int start, int count)
    {
        var batch = _data.Collate(Enumerable.Range(start, count).ToArray());
        if (_device is null || batch.InputIds.device == _device) return batch;
        var moved = batch.To(_device);
        batch.Dispose();
        return moved;
    }

    /// <summary>
    /// Correct argmax predictions and positions counted: causal LM compares position t's prediction with token
    /// t+1 everywhere (run_clm.py does not skip -100); masked LM only where the label is not -100 (run_mlm.py).
    /// </summary>
    private (long Correct, long Total) Accuracy(Tensor logits, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var predictions = logits.argmax(-1);
        var targets = labels.to(predictions.device);
        if (_model.Objective == TrainingObjective.CausalLm)
        {
            var shiftedPredictions = predictions[.., ..^1];
            var shiftedTargets = targets[.., 1..];
            return (shiftedPredictions.eq(shiftedTargets).sum().item<long>(), shiftedTargets.numel());
        }
        var selected = targets.ne(ScalarCache.Of(LanguageModel.IgnoreIndex));
        return (predictions.eq(targets).logical_and(selected).sum().item<long>(), selected.sum().item<long>());
    }
}
