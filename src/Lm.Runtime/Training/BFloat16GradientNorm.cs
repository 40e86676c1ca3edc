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
/// so each square is exact in float32 and only the additions round: the same lanes in the same order give the same
/// bits. The lane count is the kernel's (8 for libtorch's AVX2 kernels, 16 for its AVX-512 ones): it is found once per
/// process by comparing with torch on random gradients; where neither matches, <see cref="Lanes"/> is null and the
/// optimizer widens and asks torch as before.
/// </summary>
internal static unsafe class BFloat16GradientNorm
{
    /// <summary>The lane count that reproduces this libtorch's norm to the bit, or null where none does.</summary>
    internal static readonly Lazy<int?> Lanes = new(FindLanes);

    private static int? FindLanes()
    {
        using var scope = NewDisposeScope();
        // A generator of its own: the check must not move the global one that dropout and data order draw from.
        var generator = new Generator(20_261_208);
        var samples = new[] { 1L, 15, 100, 1_000, 4_099, 70_003 }
            .Select(n => randn(n, generator: generator).mul(ScalarCache.Of(1e-3)).to(ScalarType.BFloat16)).ToList();
        foreach (int lanes in new[] { 8, 16 })
        {
            if (samples.All(g => SameBits(Norm(g, lanes), g.to(ScalarType.Float32).norm(2f).item<float>()))) return lanes;
        }
        return null;
    }

    private static bool SameBits(float a, float b) => BitConverter.SingleToInt32Bits(a) == BitConverter.SingleToInt32Bits(b);

    /// <summary>Whether <paramref name="grad"/> is one this norm reads (bf16, contiguous, CPU) on a libtorch it matches.</summary>
    public static bool Applies(Tensor grad) =>
        grad.dtype == ScalarType.BFloat16 && grad.device_type == DeviceType.CPU && grad.is_contiguous() && Lanes.Value is not null;

    /// <summary>The norm of <paramref name="grad"/>, equal to torch's of its float32 widening (see <see cref="Applies"/>).</summary>
    public static float Norm(Tensor grad) => Norm(grad, Lanes.Value ?? throw new InvalidOperationException("no lane count matches this libtorch"));

    internal static float Norm(Tensor grad, int lanes)
    {
        long count = grad.numel();
        if (count == 0) return 0f;
        var data = (ushort*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(grad.bytes));
        return MathF.Sqrt(SumOfSquares(data, count, lanes));
    }

    /// <summary>libtorch's accumulation: <paramref name="lanes"/> running sums over the whole vectors, then in order, then the rest.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float SumOfSquares(ushort* data, long count, int lanes)
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
                var x = Widen(data + d);
                low += x * x;
                if (lanes == 16)
                {
                    var y = Widen(data + d + 8);
                    high += y * y;
                }
            }
            low.CopyTo(sums);
            if (lanes == 16) high.CopyTo(sums[8..]);
        }
        else
        {
            for (; d < whole; d += lanes)
            {
                for (int j = 0; j < lanes; j++)
                {
                    float x = Widen(data[d + j]);
                    sums[j] += x * x;
                }
            }
        }
        float total = sums[0];
        for (int j = 1; j < lanes; j++) total += sums[j];
        for (; d < count; d++)
        {
            float x = Widen(data[d]);
            total += x * x;
        }
        return total;
    }

    private static Vector256<float> Widen(ushort* source)
    {
        var half = Vector128.Load(source);
        return Vector256.ShiftLeft(Vector256.Create(Vector128.WidenLower(half), Vector128.WidenUpper(half)), 16).AsSingle();
    }

    private static float Widen(ushort value) => BitConverter.Int32BitsToSingle(value << 16);
}
