using Lm.Runtime.Models;
using Lm.Runtime.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Training;

/// <summary>
/// The training losses of <see cref="TrainingLoss"/> and <see cref="LabelSmoother"/> computed from the LM head's
/// input a chunk of positions at a time, so that the float32 <c>[batch, sequence, vocab]</c> logits, their
/// log-softmax and their gradient are never held whole (for SmolLM2's vocabulary at 8 × 512 tokens each is 0.8 GB).
/// Only positions with a label are projected. Each chunk's logits are made as the model makes them (the head's
/// <c>linear</c> in the model's dtype, then float32), and the chunk's gradient with respect to those logits is taken
/// at once, in the forward pass, from the closed form of the cross entropy's derivative (softmax minus the one-hot
/// label; with label smoothing ε: softmax minus (1-ε)·one-hot minus ε/V), so no chunk is projected twice: the
/// multiply-adds are those of the plain path. The backward pass only scales the gradients kept for the head's input
/// and parameters by the incoming gradient.
/// </summary>
public static class ChunkedCrossEntropy
{
    /// <summary>
    /// HF's training loss over <paramref name="head"/>'s logits: with <paramref name="labelSmoothing"/> 0, the summed
    /// cross entropy over labels ≠ -100 divided by <paramref name="itemsInWindow"/> (<see cref="TrainingLoss.Summed"/>
    /// / <c>num_items_in_batch</c>); otherwise <see cref="LabelSmoother.Loss"/> (a mean over this batch's labels).
    /// Causal LM labels are shifted left first. <paramref name="chunkTokens"/> positions are projected at a time.
    /// </summary>
    public static Tensor Loss(LinearHeadInput head, Tensor labels, bool shiftLabels, long itemsInWindow,
        double labelSmoothing, long chunkTokens) =>
        Loss(head, labels, shiftLabels, itemsInWindow, labelSmoothing, chunkTokens, GroupBytes);

    /// <summary><see cref="Loss(LinearHeadInput, Tensor, bool, long, double, long)"/> with another <see cref="GroupBytes"/>.</summary>
    internal static Tensor Loss(LinearHeadInput head, Tensor labels, bool shiftLabels, long itemsInWindow,
        double labelSmoothing, long chunkTokens, long groupBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkTokens, 1);
        using var scope = NewDisposeScope();
        var targets = labels.to(head.Features.device);
        if (shiftLabels) targets = nn.functional.pad(targets, [0, 1], value: LanguageModel.IgnoreIndex)[.., 1..];
        var flatTargets = targets.reshape(-1);
        var rows = flatTargets.ne(ScalarCache.Of(LanguageModel.IgnoreIndex)).nonzero().view(-1);
        long active = rows.shape[0];
        long vocabulary = head.Weight.shape[0];
        // loss = Σ over labelled rows of (a · nll + b · Σ_v -log p_v).
        double a, b;
        if (labelSmoothing == 0)
        {
            a = 1.0 / itemsInWindow;
            b = 0;
        }
        else
        {
            // LabelSmoother: (1 - ε) · nll / active + ε · smooth / (active · V); a batch without labels gives 0.
            double count = Math.Max(active, 1);
            a = (1 - labelSmoothing) / count;
            b = labelSmoothing / (count * vocabulary);
        }
        if (active == 0 || (labelSmoothing == 0 && itemsInWindow == 0))
            return head.Features.sum().mul(ScalarCache.Of(0.0)).to(ScalarType.Float32).MoveToOuterDisposeScope();

        var features = head.Features.reshape(-1, head.Features.shape[^1]).index_select(0, rows);
        var labelled = flatTargets.index_select(0, rows);
        var coefficients = new Coefficients(a, b, chunkTokens, groupBytes, is_grad_enabled());
        var loss = head.Bias is null
            ? LinearCrossEntropy.apply(features, head.Weight, labelled, coefficients)
            : LinearCrossEntropy.apply(features, head.Weight, head.Bias, labelled, coefficients);
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The trainer's default chunk for a micro-batch of <paramref name="positions"/> over <paramref name="vocabulary"/>:
    /// 0 (the plain loss) while its float32 logits take at most 64 MiB, else at most 64 MiB of logits a chunk (333
    /// positions of GPT-2's vocabulary; a distilgpt2-shaped 8 × 128 batch's 1,016 labelled rows become 4 chunks of
    /// 254). Chunks of half that size made the head's products about 10% slower there (BENCHMARKS.md).
    /// </summary>
    public static long DefaultChunkTokens(long positions, long vocabulary)
    {
        const long limitBytes = 64L << 20;
        long rowBytes = Math.Max(vocabulary, 1) * sizeof(float);
        return positions * rowBytes > limitBytes ? Math.Max(limitBytes / rowBytes, 1) : 0;
    }

    /// <summary>
    /// Rows per chunk: <paramref name="n"/> split into as few chunks of at most <paramref name="maxRows"/> as
    /// possible, of near-equal size (1,016 rows at most 166 a chunk: 7 of 146, not 6 of 166 and one of 20, whose
    /// head product runs far below the GEMM rate).
    /// </summary>
    internal static long BalancedChunkRows(long n, long maxRows)
    {
        if (n <= maxRows) return Math.Max(n, 1);
        long chunks = (n + maxRows - 1) / maxRows;
        return (n + chunks - 1) / chunks;
    }

    /// <summary>
    /// The most memory a reduced-precision model's kept logit gradients take before their weight-gradient product is
    /// made: one group for a distilgpt2-shaped 8 × 128 batch (1024 × 50,257 bf16 values are 98 MiB).
    /// </summary>
    internal const long GroupBytes = 128L << 20;

    // GradEnabled: whether the caller records a graph (apply() runs forward without autograd, so it cannot ask).
    private sealed record Coefficients(double NllScale, double SmoothScale, long ChunkTokens, long GroupBytes, bool GradEnabled);

    /// <summary>The gradients the forward pass computed, handed to the backward pass once.</summary>
    private sealed class Gradients
    {
        public Tensor? Features, Weight, Bias;
    }

    private sealed class LinearCrossEntropy : autograd.SingleTensorFunction<LinearCrossEntropy>
    {
        public override string Name => "LinearCrossEntropy";

        // vars: features [n, width], weight [vocab, width], (bias [vocab]), labels [n], coefficients.
        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            ReturnedGradients.Release();
            var features = (Tensor)vars[0];
            var weight = (Tensor)vars[1];
            var bias = vars.Length == 5 ? (Tensor)vars[2] : null;
            var labels = (Tensor)vars[^2];
            var k = (Coefficients)vars[^1];
            bool wantFeatures = k.GradEnabled && features.requires_grad, wantWeight = k.GradEnabled && weight.requires_grad;
            bool wantBias = k.GradEnabled && (bias?.requires_grad ?? false);
            bool wantAny = wantFeatures || wantWeight || wantBias;

            using var scope = NewDisposeScope();
            long n = features.shape[0], vocabulary = weight.shape[0];
            long chunkRows = BalancedChunkRows(n, k.ChunkTokens);
            var total = zeros([], dtype: ScalarType.Float64, device: features.device);
            var gradFeatures = wantFeatures ? empty_like(features) : null;
            // An fp32 model's weight gradient is accumulated chunk by chunk. A bf16 (or f16) model's chunk products
            // would each be rounded, widened and added: their gradients with respect to the logits are kept instead
            // (in the model's dtype, as the plain path's linear backward has them) for a group of up to
            // GroupBytes, and each group makes one product, with as many rows as the plain path's when one group
            // holds the batch, and no per-chunk pass over the [vocab, width] gradient.
            bool grouped = wantWeight && weight.dtype != ScalarType.Float32;
            long groupRows = grouped ? Math.Max(k.GroupBytes / (vocabulary * weight.element_size()) / chunkRows, 1) * chunkRows : 0;
            var groupGradients = grouped ? empty([Math.Min(groupRows, n), vocabulary], dtype: weight.dtype, device: weight.device) : null;
            long groupStart = 0;
            Tensor? groupedWeightGradient = null;
            var gradWeight = wantWeight && !grouped ? zeros(weight.shape, dtype: ScalarType.Float32, device: weight.device) : null;
            var gradBias = wantBias ? zeros(bias!.shape, dtype: ScalarType.Float32, device: bias.device) : null;
            using Scalar nllScale = k.NllScale, smoothScale = k.SmoothScale, softmaxScale = k.NllScale + k.SmoothScale * vocabulary;
            using Scalar vocabularyScalar = (double)vocabulary;
            for (long start = 0; start < n; start += chunkRows)
            {
                using var chunkScope = NewDisposeScope();
                long length = Math.Min(chunkRows, n - start);
                var x = features.narrow(0, start, length);
                var target = labels.narrow(0, start, length).unsqueeze(1);
                // As the model's forward pass and the plain loss: linear in the model's dtype, then float32.
                var logits = nn.functional.linear(x, weight, bias).to(ScalarType.Float32);
                var logSumExp = logits.logsumexp(1, keepdim: true);
                var nll = logSumExp.sub(logits.gather(1, target)).sum();
                var chunkLoss = nll.to(ScalarType.Float64).mul(nllScale);
                if (k.SmoothScale != 0)
                {
                    // Σ_v -log p_v = V · logsumexp - Σ_v z_v
                    var smooth = logSumExp.mul(vocabularyScalar).sub(logits.sum(1, keepdim: true)).sum();
                    chunkLoss = chunkLoss.add(smooth.to(ScalarType.Float64).mul(smoothScale));
                }
                total.add_(chunkLoss);
                if (!wantAny) continue;

                // d loss / d z = (a + b·V) · softmax - a · one-hot - b, in place over the logits.
                var gradLogits = logits.sub_(logSumExp).exp_().mul_(softmaxScale);
                if (k.SmoothScale != 0) gradLogits.sub_(smoothScale);
                using (Scalar minusA = -k.NllScale)
                    gradLogits.scatter_add_(1, target, full([length, 1], minusA, dtype: ScalarType.Float32, device: x.device));
                var g = groupGradients is null ? gradLogits.to(x.dtype) : groupGradients.narrow(0, start - groupStart, length).copy_(gradLogits);
                if (gradFeatures is not null) gradFeatures.narrow(0, start, length).copy_(g.matmul(weight));
                if (gradWeight is not null && !grouped) gradWeight.add_(g.t().matmul(x).to(ScalarType.Float32));
                if (gradBias is not null) gradBias.add_(g.sum(dim: 0).to(ScalarType.Float32));
                long end = start + length;
                if (grouped && (end - groupStart == groupRows || end == n))
                {
                    var product = groupGradients!.narrow(0, 0, end - groupStart).t().matmul(features.narrow(0, groupStart, end - groupStart));
                    if (groupStart == 0 && end == n)
                    {
                        groupedWeightGradient = product.DetachFromDisposeScope();
                    }
                    else
                    {
                        // Several groups (a large batch): their products are summed in float32, as the chunks of an fp32 model.
                        gradWeight ??= zeros(weight.shape, dtype: ScalarType.Float32, device: weight.device).MoveToOuterDisposeScope();
                        gradWeight.add_(product.to(ScalarType.Float32));
                    }
                    groupStart = end;
                }
            }

            var kept = new Gradients
            {
                Features = gradFeatures?.DetachFromDisposeScope(),
                Weight = groupedWeightGradient ?? (gradWeight is null ? null : As(gradWeight, weight.dtype).DetachFromDisposeScope()),
                Bias = gradBias is null ? null : As(gradBias, bias!.dtype).DetachFromDisposeScope(),
            };
            ctx.save_data("gradients", kept);
            ctx.save_data("has_bias", bias is not null);
            return total.to(ScalarType.Float32).MoveToOuterDisposeScope();
        }

        private static Tensor As(Tensor tensor, ScalarType dtype) => tensor.dtype == dtype ? tensor : tensor.to(dtype);

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            ReturnedGradients.Release();
            var kept = (Gradients)ctx.get_data("gradients");
            bool hasBias = (bool)ctx.get_data("has_bias");
            // The loss is usually the root (gradient 1): the kept gradients are then returned as they are.
            float scale = gradOutput.item<float>();
            Tensor? Scaled(Tensor? gradient)
            {
                if (gradient is null) return null;
                if (scale == 1f) return gradient;
                using Scalar s = scale;
                var scaled = gradient.mul(s);
                gradient.Dispose();
                return scaled;
            }
            var result = new List<Tensor> { ReturnedGradients.Hand(Scaled(kept.Features)), ReturnedGradients.Hand(Scaled(kept.Weight)) };
            if (hasBias) result.Add(ReturnedGradients.Hand(Scaled(kept.Bias)));
            result.Add(null!); // labels
            result.Add(null!); // coefficients
            kept.Features = kept.Weight = kept.Bias = null;
            gradOutput.Dispose();
            return result;
        }
    }
}
