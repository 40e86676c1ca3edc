using Lm.Runtime.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Models;

/// <summary>
/// HF's <c>trainer_pt_utils.LabelSmoother</c>, which the Trainer uses instead of the model's loss when
/// <c>label_smoothing_factor</c> is not 0: <c>(1 - ε) · nll + ε · smooth</c>, where <c>nll</c> is the mean negative
/// log-likelihood of the labels and <c>smooth</c> the mean over the vocabulary of <c>-log_softmax</c>, both over the
/// positions whose label is not -100. Causal LM labels are shifted first (<c>shift_labels=True</c>: the Trainer does so
/// for models in <c>MODEL_FOR_CAUSAL_LM_MAPPING_NAMES</c>).
/// </summary>
public static class LabelSmoother
{
    /// <summary>The smoothed loss of one batch, a float32 scalar in the caller's dispose scope.</summary>
    public static Tensor Loss(Tensor logits, Tensor labels, double epsilon, bool shiftLabels)
    {
        using var scope = NewDisposeScope();
        var scores = logits.to(ScalarType.Float32);
        var targets = labels.to(logits.device);
        if (shiftLabels)
        {
            scores = scores[.., ..^1, ..];
            targets = targets[.., 1..];
        }
        var negativeLogProbs = nn.functional.log_softmax(scores, -1).neg();
        var target = targets.unsqueeze(-1);
        var padding = target.eq(ScalarCache.Of(LanguageModel.IgnoreIndex));
        // An ignored label is clamped to 0 so that gather stays in range; the padding mask drops it.
        var nll = negativeLogProbs.gather(-1, target.clamp_min(ScalarCache.Of(0L))).masked_fill(padding, ScalarCache.Of(0.0)).sum();
        var smoothed = negativeLogProbs.sum(-1, keepdim: true).masked_fill(padding, ScalarCache.Of(0.0)).sum();
        // HF divides by the active count; a batch without any label (0 / 0 there) contributes 0 here.
        var active = padding.logical_not().sum().clamp_min(ScalarCache.Of(1L));
        using Scalar keep = 1 - epsilon, spread = epsilon, vocabulary = negativeLogProbs.shape[^1];
        return nll.div(active).mul(keep).add(smoothed.div(active.mul(vocabulary)).mul(spread)).MoveToOuterDisposeScope();
    }
}
