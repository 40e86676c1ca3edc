using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lm.Runtime.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Models;

/// <summary>
/// HF's <c>gelu_new</c>, <c>0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))</c>, on a float32 or bfloat16 CPU
/// tensor in three passes (two of its own around torch's <c>tanh</c>) and its gradient in one, where the written-out
/// formula makes eight element-wise passes forward and about as many backward, each keeping a temporary alive for
/// the backward pass. The result is torch's bit for bit: each element goes through the float operations libtorch's
/// CPU kernels do, rounded where they round (to bfloat16 after each operation for a bfloat16 tensor):
/// <list type="bullet">
/// <item>forward, in HF's order: <c>h = 0.5 · x</c>; <c>x³ = (x · x) · x</c>; <c>t = x + 0.044715 · x³</c>;
/// <c>u = √(2/π) · t</c>; <c>th = tanh(u)</c> (torch's own call: its vectorised tanh is not the correctly rounded
/// one, so no other tanh would match it); <c>y = h · (th + 1)</c>; scalars rounded to float as libtorch rounds
/// a Scalar.</item>
/// <item>backward, as autograd runs the recorded graph: <c>g_th = g · h</c>; tanh's backward
/// <c>g_u = g_th · fma(-th, th, 1)</c> (libtorch's GCC build contracts <c>1 - th · th</c>; for a bfloat16 <c>th</c>
/// the square is exact, so both forms agree there); <c>g_t = g_u · √(2/π)</c>; pow's backward <c>g_t · 0.044715 · (3 · (x · x))</c>,
/// each product rounded; and the three gradients that reach <c>x</c> summed in the order the engine delivers them
/// (the addition's, then pow's, then the <c>0.5 · x</c> product's).</item>
/// </list>
/// A libtorch built otherwise could round differently, so before its first use <see cref="MatchesTorch"/> runs both
/// ways on a few thousand values and the fused passes are used only if they agree to the bit.
/// </summary>
internal static unsafe class FusedGeluNew
{
    private static readonly float Cubic = (float)0.044715;
    private static readonly float SqrtTwoOverPi = (float)Math.Sqrt(2.0 / Math.PI);

    /// <summary>
    /// Whether this libtorch computes gelu_new, forward and backward, as the fused passes do, to the bit, for both
    /// dtypes; decided once per process.
    /// </summary>
    internal static readonly Lazy<bool> MatchesTorch = new(() =>
        AgreesWithTorchOps(ScalarType.Float32, 4_099, threads: 1) && AgreesWithTorchOps(ScalarType.BFloat16, 4_099, threads: 1));

    /// <summary>Whether <paramref name="x"/> is a tensor the fused passes take (and this libtorch agrees with them).</summary>
    public static bool Applies(Tensor x) =>
        x.dtype is ScalarType.Float32 or ScalarType.BFloat16 && TensorMemory.Addressable(x) && MatchesTorch.Value;

    /// <summary>gelu_new of <paramref name="x"/>, recorded for autograd as one node when a graph is being built.</summary>
    public static Tensor Apply(Tensor x) =>
        is_grad_enabled() && x.requires_grad ? GeluNewFunction.apply(x) : Forward(x, keepTanh: false).Output;

    /// <summary>Forward and backward over <paramref name="count"/> values of <paramref name="dtype"/> both ways; equal to the bit?</summary>
    internal static bool AgreesWithTorchOps(ScalarType dtype, long count, int threads)
    {
        using var scope = NewDisposeScope();
        // A generator of its own: the check must not move the global one that dropout and data order draw from.
        var generator = new Generator(20_241_208);
        // Wide enough to reach tanh's saturation, large cubes and tiny values near zero.
        var x = randn(count, generator: generator).mul(ScalarCache.Of(4.0)).to(dtype);
        var upstream = randn(count, generator: generator).to(dtype);
        int saved = get_num_threads();
        // The first use may come under no_grad (evaluation, generation); the check needs a graph of its own.
        using var withGrad = enable_grad();
        try
        {
            set_num_threads(threads);
            var reference = x.detach().requires_grad_(true);
            var referenceOutput = HfActivations.GeluNewOps(reference);
            referenceOutput.backward([upstream]);
            var fused = x.detach().requires_grad_(true);
            var fusedOutput = Apply(fused);
            fusedOutput.backward([upstream]);
            return SameBits(referenceOutput, fusedOutput) && SameBits(reference.grad!, fused.grad!);
        }
        finally
        {
            set_num_threads(saved);
        }
    }

    private static bool SameBits(Tensor a, Tensor b) => a.bytes.SequenceEqual(b.bytes);

    /// <summary>The output and, when asked, torch's tanh of the scaled inner term (what the gradient needs).</summary>
    private static (Tensor Output, Tensor? Tanh) Forward(Tensor x, bool keepTanh)
    {
        int threads = get_num_threads();
        long count = x.numel();
        var inner = empty_like(x);
        var output = empty_like(x);
        if (count == 0) return (output, keepTanh ? inner : null);
        bool bf16 = x.dtype == ScalarType.BFloat16;
        void* xs = DataOf(x), us = DataOf(inner);
        if (bf16) ElementBlocks.For(count, threads, (start, length) => Inner<Bf16>((ushort*)xs + start, (ushort*)us + start, length));
        else ElementBlocks.For(count, threads, (start, length) => Inner<Fp32>((float*)xs + start, (float*)us + start, length));

        inner.tanh_();
        void* ths = DataOf(inner), ys = DataOf(output);
        if (bf16) ElementBlocks.For(count, threads, (start, length) => Outer<Bf16>((ushort*)xs + start, (ushort*)ths + start, (ushort*)ys + start, length));
        else ElementBlocks.For(count, threads, (start, length) => Outer<Fp32>((float*)xs + start, (float*)ths + start, (float*)ys + start, length));
        if (keepTanh) return (output, inner);
        inner.Dispose();
        return (output, null);
    }

    private static Tensor Backward(Tensor gradOutput, Tensor x, Tensor tanh)
    {
        int threads = get_num_threads();
        long count = x.numel();
        var gradInput = empty_like(x);
        if (count == 0) return gradInput;
        void* gs = DataOf(gradOutput), xs = DataOf(x), ths = DataOf(tanh), ds = DataOf(gradInput);
        if (x.dtype == ScalarType.BFloat16)
            ElementBlocks.For(count, threads, (start, length) => Gradient<Bf16>((ushort*)gs + start, (ushort*)xs + start, (ushort*)ths + start, (ushort*)ds + start, length));
        else
            ElementBlocks.For(count, threads, (start, length) => Gradient<Fp32>((float*)gs + start, (float*)xs + start, (float*)ths + start, (float*)ds + start, length));
        return gradInput;
    }

    private static void* DataOf(Tensor tensor) => TensorMemory.FirstElement(tensor);

    /// <summary>u = √(2/π) · (x + 0.044715 · ((x · x) · x)), each operation rounded to the tensor's dtype.</summary>
    private static void Inner<T>(void* x, void* u, long length) where T : struct, IElements
    {
        long i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var cubic = new Vector<float>(Cubic);
            var scale = new Vector<float>(SqrtTwoOverPi);
            for (; i <= length - T.Width; i += T.Width)
            {
                var (a, b) = T.Load(x, i);
                T.Store(u, i, InnerOf(a, cubic, scale), InnerOf(b, cubic, scale));
            }
        }
        for (; i < length; i++)
        {
            float v = T.Get(x, i);
            float cube = T.Round(T.Round(v * v) * v);
            T.Set(u, i, T.Round(T.Round(v + T.Round(cube * Cubic)) * SqrtTwoOverPi));
        }

        static Vector<float> InnerOf(Vector<float> v, Vector<float> cubic, Vector<float> scale)
        {
            var cube = T.Round(T.Round(v * v) * v);
            return T.Round(T.Round(v + T.Round(cube * cubic)) * scale);
        }
    }

    /// <summary>y = (0.5 · x) · (th + 1), each operation rounded to the tensor's dtype.</summary>
    private static void Outer<T>(void* x, void* th, void* y, long length) where T : struct, IElements
    {
        long i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var half = new Vector<float>(0.5f);
            for (; i <= length - T.Width; i += T.Width)
            {
                var (xa, xb) = T.Load(x, i);
                var (ta, tb) = T.Load(th, i);
                T.Store(y, i, T.Round(T.Round(xa * half) * T.Round(ta + Vector<float>.One)),
                    T.Round(T.Round(xb * half) * T.Round(tb + Vector<float>.One)));
            }
        }
        for (; i < length; i++)
            T.Set(y, i, T.Round(T.Round(T.Get(x, i) * 0.5f) * T.Round(T.Get(th, i) + 1f)));
    }

    /// <summary>
    /// d = ((g_t + g_t · 0.044715 · (3 · (x · x))) + g · (th + 1) · 0.5) with g_t = (g · (0.5 · x)) · (1 - th · th) · √(2/π),
    /// each product and sum rounded as autograd's nodes round theirs, in the engine's order.
    /// </summary>
    private static void Gradient<T>(void* g, void* x, void* th, void* d, long length) where T : struct, IElements
    {
        long i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var cubic = new Vector<float>(Cubic);
            var scale = new Vector<float>(SqrtTwoOverPi);
            for (; i <= length - T.Width; i += T.Width)
            {
                var (ga, gb) = T.Load(g, i);
                var (xa, xb) = T.Load(x, i);
                var (ta, tb) = T.Load(th, i);
                T.Store(d, i, GradientOf(ga, xa, ta, cubic, scale), GradientOf(gb, xb, tb, cubic, scale));
            }
        }
        for (; i < length; i++)
        {
            float gradOut = T.Get(g, i), v = T.Get(x, i), t = T.Get(th, i);
            float gradHalf = T.Round(gradOut * T.Round(t + 1f));
            float gradTanh = T.Round(gradOut * T.Round(v * 0.5f));
            float gradInner = T.Round(gradTanh * MathF.FusedMultiplyAdd(-t, t, 1f));
            float gradSum = T.Round(gradInner * SqrtTwoOverPi);
            float gradCube = T.Round(gradSum * Cubic);
            float gradPow = T.Round(gradCube * T.Round(T.Round(v * v) * 3f));
            T.Set(d, i, T.Round(T.Round(gradSum + gradPow) + T.Round(gradHalf * 0.5f)));
        }

        static Vector<float> GradientOf(Vector<float> gradOut, Vector<float> v, Vector<float> t, Vector<float> cubic, Vector<float> scale)
        {
            var gradHalf = T.Round(gradOut * T.Round(t + Vector<float>.One));
            var gradTanh = T.Round(gradOut * T.Round(v * new Vector<float>(0.5f)));
            var gradInner = T.Round(gradTanh * Vector.FusedMultiplyAdd(-t, t, Vector<float>.One));
            var gradSum = T.Round(gradInner * scale);
            var gradCube = T.Round(gradSum * cubic);
            var gradPow = T.Round(gradCube * T.Round(T.Round(v * v) * new Vector<float>(3f)));
            return T.Round(T.Round(gradSum + gradPow) + T.Round(gradHalf * new Vector<float>(0.5f)));
        }
    }

    /// <summary>How a dtype's elements are read as floats, rounded after an operation, and written.</summary>
    private interface IElements
    {
        /// <summary>Elements per vector step (two float vectors).</summary>
        static abstract int Width { get; }
        static abstract (Vector<float>, Vector<float>) Load(void* p, long i);
        static abstract void Store(void* p, long i, Vector<float> a, Vector<float> b);
        static abstract Vector<float> Round(Vector<float> v);
        static abstract float Get(void* p, long i);
        static abstract void Set(void* p, long i, float v);
        static abstract float Round(float v);
    }

    /// <summary>float32: every float operation already rounds to the dtype.</summary>
    private readonly struct Fp32 : IElements
    {
        public static int Width => 2 * Vector<float>.Count;
        public static (Vector<float>, Vector<float>) Load(void* p, long i) =>
            (Vector.Load((float*)p + i), Vector.Load((float*)p + i + Vector<float>.Count));
        public static void Store(void* p, long i, Vector<float> a, Vector<float> b)
        {
            Vector.Store(a, (float*)p + i);
            Vector.Store(b, (float*)p + i + Vector<float>.Count);
        }
        public static Vector<float> Round(Vector<float> v) => v;
        public static float Get(void* p, long i) => ((float*)p)[i];
        public static void Set(void* p, long i, float v) => ((float*)p)[i] = v;
        public static float Round(float v) => v;
    }

    /// <summary>
    /// bfloat16: computed in float and rounded to the nearest even bfloat16 after each operation, as libtorch's
    /// bfloat16 kernels do (c10's <c>round_to_nearest_even</c>; a NaN becomes a quiet NaN).
    /// </summary>
    private readonly struct Bf16 : IElements
    {
        public static int Width => Vector<ushort>.Count;
        public static (Vector<float>, Vector<float>) Load(void* p, long i)
        {
            Vector.Widen(Vector.Load((ushort*)p + i), out Vector<uint> low, out Vector<uint> high);
            return (Vector.AsVectorSingle(low << 16), Vector.AsVectorSingle(high << 16));
        }
        public static void Store(void* p, long i, Vector<float> a, Vector<float> b) =>
            Vector.Store(Vector.Narrow(Bits(a), Bits(b)), (ushort*)p + i);
        public static Vector<float> Round(Vector<float> v) => Vector.AsVectorSingle(Bits(v) << 16);
        public static float Get(void* p, long i) => BitConverter.UInt32BitsToSingle((uint)((ushort*)p)[i] << 16);
        public static void Set(void* p, long i, float v) => ((ushort*)p)[i] = (ushort)Bits(v);
        public static float Round(float v) => BitConverter.UInt32BitsToSingle(Bits(v) << 16);

        private static uint Bits(float v)
        {
            if (float.IsNaN(v)) return 0x7FC0;
            uint bits = BitConverter.SingleToUInt32Bits(v);
            return (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16;
        }

        private static Vector<uint> Bits(Vector<float> v)
        {
            var bits = Vector.AsVectorUInt32(v);
            var rounded = (bits + new Vector<uint>(0x7FFF) + ((bits >> 16) & Vector<uint>.One)) >> 16;
            return Vector.ConditionalSelect(Vector.AsVectorUInt32(Vector.Equals(v, v)), rounded, new Vector<uint>(0x7FC0));
        }
    }

    /// <summary>gelu_new as one autograd node: keeps x and the tanh for the backward pass.</summary>
    private sealed class GeluNewFunction : autograd.SingleTensorFunction<GeluNewFunction>
    {
        public override string Name => "GeluNewBackward";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            ReturnedGradients.Release();
            var x = (Tensor)vars[0];
            var (output, tanh) = Forward(x, keepTanh: true);
            // TorchSharp turns these into saved variables after forward returns, so the handle stays open until then
            // (the caller's dispose scope, or the finalizer without one, releases it).
            ctx.save_for_backward([x, tanh!]);
            return output;
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            ReturnedGradients.Release();
            var saved = ctx.get_saved_variables();
            using var x = saved[0];
            using var tanh = saved[1];
            using var contiguous = gradOutput.contiguous();
            var gradInput = Backward(contiguous, x, tanh);
            gradOutput.Dispose();
            return [ReturnedGradients.Hand(gradInput)];
        }
    }
}
