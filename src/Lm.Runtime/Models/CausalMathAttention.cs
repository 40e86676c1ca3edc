using Lm.Runtime.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Models;

/// <summary>
/// libtorch's CPU <c>scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=p)</c> in training, written out
/// as its math kernel computes it (<c>_scaled_dot_product_attention_math</c>; the fused CPU kernel takes no dropout):
/// a bfloat16 input goes to float32 first; q and kᵀ are each multiplied by √scale (scale = 1/√head_dim); the causal
/// mask (0 on and below the diagonal, -∞ above) is added to their product; softmax over the keys; dropout; the product
/// with v; back to the input's dtype. Written out, the dropout goes through <see cref="TorchDropout"/>, whose noise
/// comes from the same generator state as libtorch's serial <c>bernoulli_</c> but much faster (the attention weights
/// are the largest tensor a GPT-2 layer drops out: batch × heads × length² values). Every other operation is torch's,
/// in the same order, so the output, its gradients and the generator's state after are torch's; a once-per-process
/// check (<see cref="MatchesTorch"/>) compares both ways, and anything it does not cover stays torch's own call.
/// </summary>
internal static class CausalMathAttention
{
    /// <summary>
    /// Whether this libtorch's SDPA gives what <see cref="Forward"/> gives, forward and backward, to the bit. SDPA draws
    /// its dropout from the global generator, so the check runs both ways from that generator's state and then puts
    /// the state back: a thread drawing from it at that moment would draw again what it drew (lm-tune trains on one
    /// thread; the first training forward pass with dropout runs the check).
    /// </summary>
    internal static readonly Lazy<bool> MatchesTorch = new(() => AgreesWithTorch(batch: 2, heads: 3, length: 33, headSize: 8, dropout: 0.1));

    /// <summary>Tests set this to compare against torch's own SDPA; the models never do.</summary>
    internal static bool ForceTorch { get; set; }

    /// <summary>Calls of <see cref="Forward"/> since the process started (a test's evidence that a model took this path).</summary>
    internal static long CallCount => Interlocked.Read(ref _callCount);

    private static long _callCount;

    /// <summary>Whether the written-out form serves this call (training, causal, no mask, dropout, CPU float32 or bfloat16).</summary>
    public static bool Applies(Tensor query, Tensor key, Tensor value, double dropout, bool training) =>
        training && dropout > 0 && dropout < 1 && !ForceTorch && query.dim() == 4 && key.dim() == 4 && value.dim() == 4
        && query.shape[2] == key.shape[2] && query.shape[1] == key.shape[1] && query.shape[2] > 1
        && query.device_type == DeviceType.CPU && query.dtype is ScalarType.Float32 or ScalarType.BFloat16
        && key.dtype == query.dtype && value.dtype == query.dtype
        && TorchDropout.MatchesTorch.Value && MatchesTorch.Value;

    /// <summary>Causal attention with dropout as libtorch's math kernel computes it (see the class).</summary>
    public static Tensor Forward(Tensor query, Tensor key, Tensor value, double dropout)
    {
        Interlocked.Increment(ref _callCount);
        using var scope = NewDisposeScope();
        var dtype = query.dtype;
        if (dtype != ScalarType.Float32)
        {
            query = query.to(ScalarType.Float32);
            key = key.to(ScalarType.Float32);
            value = value.to(ScalarType.Float32);
        }
        // sdp::calculate_scale(query).sqrt(): 1/√E, then its square root, in double.
        using Scalar scale = Math.Sqrt(1.0 / Math.Sqrt(query.shape[^1]));
        long length = query.shape[^2];
        var future = ones(length, length, dtype: ScalarType.Bool, device: query.device).tril().logical_not();
        var mask = zeros(length, length, dtype: query.dtype, device: query.device).masked_fill_(future, ScalarCache.Of(double.NegativeInfinity));
        var weights = query.mul(scale).matmul(key.transpose(-2, -1).mul(scale));
        weights.add_(mask);
        weights = TorchDropout.Apply(weights.softmax(-1), dropout, training: true);
        var output = weights.matmul(value);
        return (dtype == ScalarType.Float32 ? output : output.to(dtype)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Both ways from the same default-generator state, forward and backward, float32 and bfloat16: the outputs, the
    /// three input gradients and the generator's state after must agree to the bit. The default generator is put
    /// back as it was.
    /// </summary>
    internal static bool AgreesWithTorch(long batch, long heads, long length, long headSize, double dropout)
    {
        using var scope = NewDisposeScope();
        using var withGrad = enable_grad();
        var saved = random.get_rng_state();
        try
        {
            var generator = new Generator(20_261_208);
            foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
            {
                // Laid out as the models hand them over: [batch, length, heads, head size] permuted to
                // [batch, heads, length, head size].
                var inputs = Enumerable.Range(0, 4)
                    .Select(_ => randn([batch, length, heads, headSize], generator: generator).to(dtype).permute(0, 2, 1, 3)).ToArray();
                var start = random.get_rng_state();
                var (torchOutput, torchGradients, torchState) = RunFrom(start, inputs,
                    (q, k, v) => nn.functional.scaled_dot_product_attention(q, k, v, null, p: dropout, is_casual: true));
                var (ownOutput, ownGradients, ownState) = RunFrom(start, inputs, (q, k, v) => Forward(q, k, v, dropout));
                if (!SameBits(ownOutput, torchOutput) || !SameBits(ownState, torchState)) return false;
                for (int i = 0; i < 3; i++)
                    if (!SameBits(ownGradients[i], torchGradients[i])) return false;
            }
            return true;
        }
        finally
        {
            random.set_rng_state(saved);
        }
    }

    private static bool SameBits(Tensor a, Tensor b) =>
        a.shape.SequenceEqual(b.shape) && a.contiguous().bytes.SequenceEqual(b.contiguous().bytes);

    private static (Tensor Output, Tensor[] Gradients, Tensor State) RunFrom(Tensor state, Tensor[] inputs, Func<Tensor, Tensor, Tensor, Tensor> attention)
    {
        var leaves = inputs.Take(3).Select(t => t.detach().requires_grad_(true)).ToArray();
        random.set_rng_state(state);
        var output = attention(leaves[0], leaves[1], leaves[2]);
        output.backward([inputs[3]]);
        return (output.detach(), leaves.Select(l => l.grad!).ToArray(), random.get_rng_state());
    }
}
