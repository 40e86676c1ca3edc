using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Lm.Runtime.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Training;

/// <summary>
/// The L2 norm of a bf16 gradient as <c>clip_grad_norm_</c> computes it on the gradient widened to float32
/// (<c>linalg.vector_norm(grad.float(), 2)</c>), read from the bf16 memory itself: no float32 copy is written and read
/// back. libtorch's CPU kernel for a whole contiguous float32 tensor is one sequential pass with one vector of
/// accumulators (<c>acc += x * x</c> per lane, lanes as wide as the kernel's vectors), the lanes then summed in order,
/// the remainder added one by one, and the square root taken in float. A widened bf16 value has 8 significant bits,
/// so each square is exact in float32 (unless it falls below float's normal range, where a compiler's contracted
/// multiply-add rounds once less) and only the additions round: the same lanes in the same order give the same bits.
/// The lane count is the kernel's (8 for libtorch's AVX2 kernels, 16 for its AVX-512 ones) and the contraction the
/// compiler's: both are found once per process by comparing with torch on random gradients, tiny ones among them;
/// where nothing matches, <see cref="Lanes"/> is null and the optimizer widens and asks torch as before.
/// </summary>
internal static unsafe class BFloat16GradientNorm
{
    /// <summary>
    /// The lane count, and whether each square is added in one rounding (a compiler may contract the kernel's
    /// <c>acc + x * x</c>), that reproduce this libtorch's norm to the bit; null where none does.
    /// </summary>
    internal static readonly Lazy<(int Lanes, bool Fused)?> Lanes = new(FindLanes);

    private static (int Lanes, bool Fused)? FindLanes()
    {
        using var scope = NewDisposeScope();
        // A generator of its own: the check must not move the global one that dropout and data order draw from.
        var generator = new Generator(20_261_208);
        // Ordinary gradients, and tiny ones whose squares are subnormal: only there does a fused addition differ.
        var samples = new[] { (1L, 1e-3), (15, 1e-3), (100, 1e-3), (1_000, 1e-3), (4_099, 1e-3), (70_003, 1e-3), (4_099, 3e-21), (999, 1e-19) }
            .Select(s => randn(s.Item1, generator: generator).mul(ScalarCache.Of(s.Item2)).to(ScalarType.BFloat16)).ToList();
        foreach (int lanes in new[] { 8, 16 })
        {
            foreach (bool fused in new[] { false, true })
            {
                if (samples.All(g => SameBits(Norm(g, lanes, fused), g.to(ScalarType.Float32).norm(2f).item<float>()))) return (lanes, fused);
            }
        }
        return null;
    }

    private static bool SameBits(float a, float b) => BitConverter.SingleToInt32Bits(a) == BitConverter.SingleToInt32Bits(b);

    /// <summary>
    /// Whether <paramref name="grad"/> is one this norm reads (bf16, <see cref="TensorMemory.Addressable"/>) on a
    /// libtorch it matches.
    /// </summary>
    public static bool Applies(Tensor grad) =>
        grad.dtype == ScalarType.BFloat16 && TensorMemory.Addressable(grad) && Lanes.Value is not null;

    /// <summary>The norm of <paramref name="grad"/>, equal to torch's of its float32 widening (see <see cref="Applies"/>).</summary>
    public static float Norm(Tensor grad)
    {
        var (lanes, fused) = Lanes.Value ?? throw new InvalidOperationException("no lane count matches this libtorch");
        return Norm(grad, lanes, fused);
    }

    internal static float Norm(Tensor grad, int lanes, bool fused = false)
    {
        long count = grad.numel();
        if (count == 0) return 0f;
        var data = (ushort*)TensorMemory.FirstElement(grad);
        return MathF.Sqrt(fused ? SumOfSquares<Fused>(data, count, lanes) : SumOfSquares<Separate>(data, count, lanes));
    }

    /// <summary>How a square joins its running sum: rounded then added, or in one multiply-add.</summary>
    private interface IAccumulate
    {
        static abstract Vector256<float> Add(Vector256<float> sum, Vector256<float> x);
        static abstract float Add(float sum, float x);
    }

    private readonly struct Separate : IAccumulate
    {
        public static Vector256<float> Add(Vector256<float> sum, Vector256<float> x) => sum + x * x;
        public static float Add(float sum, float x) => sum + x * x;
    }

    private readonly struct Fused : IAccumulate
    {
        public static Vector256<float> Add(Vector256<float> sum, Vector256<float> x) => Vector256.FusedMultiplyAdd(x, x, sum);
        public static float Add(float sum, float x) => MathF.FusedMultiplyAdd(x, x, sum);
    }

    /// <summary>libtorch's accumulation: <paramref name="lanes"/> running sums over the whole vectors, then in order, then the rest.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float SumOfSquares<TAccumulate>(ushort* data, long count, int lanes) where TAccumulate : struct, IAccumulate
    {
        Span<float> sums = stackalloc float[lanes];
        sums.Clear();
        long whole = count - count % lanes;
        long d = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            // Lanes 0-7 and, with 16 lanes, 8-15: each a running sum of its own elements, as the kernel's vector.
            var low = Vector256<float>.Zero;
            var high = Vector256<float>.Zero;
            for (; d < whole; d += lanes)
            {
                low = TAccumulate.Add(low, Widen(data + d));
                if (lanes == 16) high = TAccumulate.Add(high, Widen(data + d + 8));
            }
            low.CopyTo(sums);
            if (lanes == 16) high.CopyTo(sums[8..]);
        }
        else
        {
            for (; d < whole; d += lanes)
            {
                for (int j = 0; j < lanes; j++) sums[j] = TAccumulate.Add(sums[j], Widen(data[d + j]));
            }
        }
        float total = sums[0];
        for (int j = 1; j < lanes; j++) total += sums[j];
        for (; d < count; d++) total = TAccumulate.Add(total, Widen(data[d]));
        return total;
    }

    private static Vector256<float> Widen(ushort* source)
    {
        var half = Vector128.Load(source);
        return Vector256.ShiftLeft(Vector256.Create(Vector128.WidenLower(half), Vector128.WidenUpper(half)), 16).AsSingle();
    }

    private static float Widen(ushort value) => BitConverter.Int32BitsToSingle(value << 16);
}
