using Lm.Runtime.Models;
using Lm.Runtime.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Training;

/// <summary>
/// The training loss as HF's Trainer computes it for models that take <c>num_items_in_batch</c> (transformers
/// 4.46 and later): the summed cross entropy of a micro-batch divided by the number of labels that are not -100
/// in the whole accumulation window (counted before the causal shift, as <c>Trainer.get_batch_samples</c> does).
/// Gradients of a window therefore equal those of one large batch, and no further division by
/// <c>gradient_accumulation_steps</c> happens.
/// </summary>
public static class TrainingLoss
{
    /// <summary>Labels that count: HF's <c>(labels != -100).sum()</c>.</summary>
    public static long CountItems(Tensor labels)
    {
        using var scope = NewDisposeScope();
        return labels.ne(ScalarCache.Of(LanguageModel.IgnoreIndex)).sum().item<long>();
    }

    /// <summary>
    /// Summed float32 cross entropy over the labels that are not -100; causal LM labels are shifted left by one
    /// first (HF's <c>ForCausalLMLoss</c>), masked LM labels are used as they are.
    /// </summary>
    public static Tensor Summed(TrainingObjective objective, Tensor logits, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var targets = labels.to(logits.device);
        if (objective == TrainingObjective.CausalLm)
            targets = nn.functional.pad(targets, [0, 1], value: LanguageModel.IgnoreIndex)[.., 1..].contiguous();
        var flat = logits.to(ScalarType.Float32).view(-1, logits.shape[^1]);
        return nn.functional.cross_entropy(flat, targets.view(-1), ignore_index: LanguageModel.IgnoreIndex,
            reduction: nn.Reduction.Sum).MoveToOuterDisposeScope();
    }
}
