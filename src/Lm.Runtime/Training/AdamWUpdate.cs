using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Lm.Runtime.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Training;

/// <summary>
/// One AdamW update of a float32 parameter on the CPU in two passes of its own over the parameter's memory, around
/// torch's square root, where torch's single-tensor AdamW makes eight (and <c>clip_grad_norm_</c>'s scaling a
/// ninth): the optimizer step of a bf16 run is memory-bound, so the passes are its cost. The result is torch's bit
/// for bit, because each element goes through the same float operations, rounded the same way, as in libtorch's CPU
/// kernels (measured on Linux x64, libtorch 2.10, whose GCC build contracts its multiply-adds):
/// <list type="bullet">
/// <item><c>grad.mul_(clip_coef)</c>: <c>g * coef</c>; <c>param.mul_(1 - lr * wd)</c>: <c>p * decay</c>.</item>
/// <item><c>exp_avg.lerp_(grad, 1 - beta1)</c>: libtorch's lerp is <c>fma(w, g - m, m)</c> for a weight under 0.5
/// and <c>fma(w - 1, g - m, g)</c> otherwise.</item>
/// <item><c>exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2)</c>: <c>fma((1 - beta2) * g, g, v * beta2)</c>
/// (libtorch's <c>self + value * t1 * t2</c>, compiled with the multiply-add contracted).</item>
/// <item><c>exp_avg_sq.sqrt()</c> stays torch's own call: with MKL it is MKL's vector square root, which is not
/// always the correctly rounded one (measured), so no other square root would match it.</item>
/// <item><c>.div_(bias_correction2_sqrt).add_(eps)</c>: <c>s / bc2 + eps</c>;
/// <c>param.addcdiv_(exp_avg, denom, -step_size)</c>: <c>p + (-step_size * m) / denom</c>.</item>
/// </list>
/// .NET never contracts a multiply and an add on its own, so each fused multiply-add above is written out.
/// Scalars are rounded to float first, as libtorch does with a Scalar on a float tensor. A libtorch compiled
/// otherwise (another compiler, a CPU without FMA kernels) would round differently, so before its first use
/// <see cref="MatchesTorch"/> runs a small update both ways and the optimizer keeps torch's ops unless they agree
/// to the bit. A bf16 model's gradient is read in its own memory and widened on the way (bf16 is float32's upper
/// half, so the widening is exact): the float32 copy torch's ops would need is never written. The writes go to
/// memory directly: unlike torch's in-place ops they do not advance the tensors' version counters (the trainer
/// steps after backward, when no graph holds the parameters).
/// </summary>
internal static unsafe class AdamWUpdate
{
    /// <summary>Below this many elements a parameter is updated on the calling thread only.</summary>
    internal const long ParallelThreshold = ElementBlocks.ParallelThreshold;

    /// <summary>Elements per parallel block: a multiple of every vector width.</summary>
    internal const long BlockSize = ElementBlocks.BlockSize;

    /// <summary>
    /// Whether this libtorch's AdamW ops give what <see cref="Run(Tensor, Tensor, Tensor, Tensor, Coefficients, int)"/>
    /// gives for a float32 gradient, to the bit: two steps of both lerp forms over 4,099 elements (vector loops and their
    /// remainders, libtorch's and ours), and over several parallel blocks at the process's threads with square roots
    /// taken a segment at a time (MKL's vector square root is then called on other slices than the whole tensor's),
    /// decided once per process.
    /// </summary>
    internal static readonly Lazy<bool> MatchesTorch = new(() => AgreesWithTorchOps(4_099, threads: 1)
        && AgreesWithTorchOps(3 * ParallelThreshold + 1_021, threads: get_num_threads(), segmentSize: ParallelThreshold + 4_099));

    /// <summary>The same for a bf16 gradient read in place (decided apart: a mismatch there leaves float32 its pass).</summary>
    internal static readonly Lazy<bool> MatchesTorchForBFloat16Gradients = new(() =>
        AgreesWithTorchOps(4_099, threads: 1, ScalarType.BFloat16)
        && AgreesWithTorchOps(4_099, threads: 1, ScalarType.BFloat16, segmentSize: 1_000)
        && AgreesWithTorchOps(3 * ParallelThreshold + 1_021, threads: get_num_threads(), ScalarType.BFloat16, segmentSize: ParallelThreshold + 4_099));

    /// <summary>
    /// Two steps of both lerp forms over <paramref name="count"/> elements, by <see cref="Run(Tensor, Tensor, Tensor, Tensor, Coefficients, int)"/> and by torch's ops
    /// (a <paramref name="gradientDtype"/> gradient; torch's ops get it widened to float32, as the optimizer widens a
    /// bf16 model's gradients); equal to the bit?
    /// </summary>
    internal static bool AgreesWithTorchOps(long count, int threads, ScalarType gradientDtype = ScalarType.Float32, long? segmentSize = null)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        // A generator of its own: the check must not move the global one that dropout and data order draw from.
        var generator = new Generator(20_240_607);
        foreach (double beta1 in new[] { 0.9, 0.3 })
        {
            var master = randn(count, generator: generator);
            var (fusedMaster, fusedExpAvg, fusedExpAvgSq) = (master.clone(), zeros(count), zeros(count));
            var (opsMaster, opsExpAvg, opsExpAvgSq) = (master.clone(), zeros(count), zeros(count));
            for (int step = 1; step <= 2; step++)
            {
                var grad = randn(count, generator: generator).to(gradientDtype);
                var wideGrad = grad.to(ScalarType.Float32);
                var scale = tensor(0.37f);
                double beta2 = 0.999, learningRate = 1e-3, weightDecay = 0.01, epsilon = 1e-8;
                double biasCorrection2Sqrt = Math.Sqrt(1 - Math.Pow(beta2, step));
                double stepSize = learningRate / (1 - Math.Pow(beta1, step));
                Run(fusedMaster, grad, fusedExpAvg, fusedExpAvgSq, new Coefficients(0.37f, (float)(1 - learningRate * weightDecay),
                    (float)(1 - beta1), (float)beta2, (float)(1 - beta2), (float)biasCorrection2Sqrt, (float)epsilon, (float)-stepSize), threads, segmentSize ?? SegmentSize);
                var scaled = wideGrad.mul(scale);
                using Scalar decay = 1 - learningRate * weightDecay, beta2Scalar = beta2, oneMinusBeta2 = 1 - beta2,
                    biasCorrection2SqrtScalar = biasCorrection2Sqrt, epsilonScalar = epsilon, negativeStepSize = -stepSize;
                opsMaster.mul_(decay);
                opsExpAvg.lerp_(scaled, tensor((float)(1 - beta1)));
                opsExpAvgSq.mul_(beta2Scalar).addcmul_(scaled, scaled, oneMinusBeta2);
                opsMaster.addcdiv_(opsExpAvg, opsExpAvgSq.sqrt().div_(biasCorrection2SqrtScalar).add_(epsilonScalar), negativeStepSize);
            }
            foreach (var (fused, ops) in new[] { (fusedMaster, opsMaster), (fusedExpAvg, opsExpAvg), (fusedExpAvgSq, opsExpAvgSq) })
            {
                if (!SameBits(fused, ops)) return false;
            }
        }
        return true;
    }

    private static bool SameBits(Tensor a, Tensor b)
    {
        var (x, y) = (a.data<float>().ToArray(), b.data<float>().ToArray());
        return MemoryMarshal.Cast<float, int>(x).SequenceEqual(MemoryMarshal.Cast<float, int>(y));
    }

    /// <summary>The update's float constants, each rounded as libtorch rounds the Scalar it receives.</summary>
    internal readonly record struct Coefficients(
        float GradScale, float Decay, float FirstMomentWeight, float Beta2, float OneMinusBeta2,
        float BiasCorrection2Sqrt, float Epsilon, float NegativeStepSize)
    {
        /// <summary>libtorch's lerp takes its other form unless |weight| &lt; 0.5 (from a beta1 of 0.5 down).</summary>
        public bool LerpFromEnd => !(MathF.Abs(FirstMomentWeight) < 0.5f);

        /// <summary>The lerp's multiplier: the weight, or the weight less one in the other form.</summary>
        public float LerpCoefficient => LerpFromEnd ? FirstMomentWeight - 1f : FirstMomentWeight;
    }

    /// <summary>
    /// Whether the tensors are ones this update handles (float32, contiguous, on the CPU, as many elements each; the
    /// gradient may be bf16, read as its exact float32 widening) and this libtorch computes AdamW as this update does.
    /// </summary>
    public static bool Applies(Tensor master, Tensor grad, Tensor expAvg, Tensor expAvgSq)
    {
        if (!(grad.dtype == ScalarType.BFloat16 ? MatchesTorchForBFloat16Gradients : MatchesTorch).Value) return false;
        foreach (var t in new[] { master, grad, expAvg, expAvgSq })
        {
            var allowed = ReferenceEquals(t, grad) ? t.dtype is ScalarType.Float32 or ScalarType.BFloat16 : t.dtype == ScalarType.Float32;
            if (!allowed || t.device_type != TorchSharp.DeviceType.CPU || !t.is_contiguous()) return false;
            if (t.numel() != master.numel()) return false;
            // A bf16 gradient and the square roots' scratch are reached through TorchSharp's byte span.
            if (ReferenceEquals(t, grad) && !TensorMemory.Addressable(t)) return false;
        }
        return true;
    }

    /// <summary>Updates <paramref name="master"/>, <paramref name="expAvg"/> and <paramref name="expAvgSq"/> in place.</summary>
    public static void Run(Tensor master, Tensor grad, Tensor expAvg, Tensor expAvgSq, Coefficients c, int threads) =>
        Run(master, grad, expAvg, expAvgSq, c, threads, SegmentSize);

    /// <summary><see cref="Run(Tensor, Tensor, Tensor, Tensor, Coefficients, int)"/> a <paramref name="segmentSize"/> elements at a time.</summary>
    internal static void Run(Tensor master, Tensor grad, Tensor expAvg, Tensor expAvgSq, Coefficients c, int threads, long segmentSize)
    {
        long count = master.numel();
        if (count == 0) return;
        // storage<float>() and sqrt() make tensor handles; freed with this parameter, not at the end of the step.
        using var scope = NewDisposeScope();
        if (grad.dtype == ScalarType.BFloat16)
        {
            // A bf16 model's gradient, read where it is: no widened float32 copy is written and read back.
            var source = new BFloat16Gradients((ushort*)TensorMemory.FirstElement(grad));
            Run(master, source, expAvg, expAvgSq, c, threads, segmentSize);
        }
        else
        {
            using var gradStorage = grad.storage<float>();
            Run(master, new Float32Gradients(Data(grad, gradStorage)), expAvg, expAvgSq, c, threads, segmentSize);
        }
    }

    private static void Run<TGradients>(Tensor master, TGradients g, Tensor expAvg, Tensor expAvgSq, Coefficients c, int threads, long segmentSize)
        where TGradients : struct, IGradients
    {
        long count = master.numel();
        using var expAvgSqStorage = expAvgSq.storage<float>();
        using var masterStorage = master.storage<float>();
        using var expAvgStorage = expAvg.storage<float>();
        float* v = Data(expAvgSq, expAvgSqStorage), p = Data(master, masterStorage), m = Data(expAvg, expAvgStorage);
        // A segment at a time: the first pass writes the new second moment to the parameter's state and to a scratch
        // buffer kept by the thread, torch takes the square root there in place, and the second pass reads it. No
        // parameter-sized temporary is allocated (a fresh 150 MB one for GPT-2's embedding each step cost page
        // faults), and a segment's roots are read back while they are still in cache.
        var scratch = RootScratch(Math.Min(segmentSize, count));
        for (long segment = 0; segment < count; segment += segmentSize)
        {
            long length = Math.Min(segmentSize, count - segment);
            using var roots = scratch.narrow(0, 0, length);
            float* r = (float*)TensorMemory.FirstElement(roots);
            ElementBlocks.For(length, threads, (start, blockLength) => SecondMoment(g, v, r + start, segment + start, blockLength, c));
            roots.sqrt_();
            ElementBlocks.For(length, threads, (start, blockLength) => FirstMomentAndParameter(g, p, m, r + start, segment + start, blockLength, c));
        }
    }

    /// <summary>Elements of a parameter updated per segment (the scratch buffer's size: 16 MiB of float32).</summary>
    internal const long SegmentSize = 1 << 22;

    [ThreadStatic]
    private static Tensor? _rootScratch;

    /// <summary>The calling thread's scratch buffer for a segment's square roots, at least <paramref name="count"/> elements.</summary>
    private static Tensor RootScratch(long count)
    {
        if (_rootScratch is null || _rootScratch.numel() < count)
        {
            _rootScratch?.Dispose();
            // Kept by the thread from step to step, outside any dispose scope of the caller.
            _rootScratch = empty(count, dtype: ScalarType.Float32, device: CPU).DetachFromDisposeScope();
        }
        return _rootScratch;
    }

    /// <summary>The tensor's first element. Float32 only: storage&lt;float&gt;() of another dtype is a converted copy.</summary>
    private static float* Data(Tensor tensor, Storage<float> storage) =>
        (float*)storage.data_ptr() + tensor.storage_offset();

    /// <summary>Where an update reads its gradient from: float32 memory, or bf16 memory widened on the way.</summary>
    private interface IGradients
    {
        Vector<float> Load(long index);
        float LoadOne(long index);
    }

    private readonly struct Float32Gradients(float* data) : IGradients
    {
        public Vector<float> Load(long index) => Vector.Load(data + index);
        public float LoadOne(long index) => data[index];
    }

    /// <summary>bf16 is the upper half of a float32: widening puts the 16 bits on top of 16 zero bits, exactly.</summary>
    private readonly struct BFloat16Gradients(ushort* data) : IGradients
    {
        public Vector<float> Load(long index) => WidenBFloat16(data + index);
        public float LoadOne(long index) => BitConverter.Int32BitsToSingle(data[index] << 16);
    }

    /// <summary><see cref="Vector{T}.Count"/> bf16 values from <paramref name="source"/> as float32.</summary>
    private static Vector<float> WidenBFloat16(ushort* source)
    {
        if (Vector<float>.Count == 8)
        {
            var half = Vector128.Load(source);
            return Vector256.ShiftLeft(Vector256.Create(Vector128.WidenLower(half), Vector128.WidenUpper(half)), 16).AsSingle().AsVector();
        }
        if (Vector<float>.Count == 16)
        {
            var half = Vector256.Load(source);
            return Vector512.ShiftLeft(Vector512.Create(Vector256.WidenLower(half), Vector256.WidenUpper(half)), 16).AsSingle().AsVector();
        }
        if (Vector<float>.Count == 4)
        {
            var half = Vector64.Load(source);
            return Vector128.ShiftLeft(Vector128.Create(Vector64.WidenLower(half), Vector64.WidenUpper(half)), 16).AsSingle().AsVector();
        }
        Span<float> values = stackalloc float[Vector<float>.Count];
        for (int i = 0; i < values.Length; i++) values[i] = BitConverter.Int32BitsToSingle(source[i] << 16);
        return new Vector<float>(values);
    }


    /// <summary>
    /// <c>v = fma((1 - beta2) * g', g', v * beta2)</c> with <c>g' = g * scale</c>, written to the state and to
    /// <paramref name="root"/> (the segment's scratch, from the block's first element).
    /// </summary>
    // Hot loops: compiled fully optimised on first call rather than after tiering (a short run or a benchmark
    // would otherwise time the unoptimised first tier).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SecondMoment<TGradients>(TGradients g, float* v, float* root, long start, long length, Coefficients c)
        where TGradients : struct, IGradients
    {
        v += start;
        long i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            int width = Vector<float>.Count;
            var scale = new Vector<float>(c.GradScale);
            var beta2 = new Vector<float>(c.Beta2);
            var oneMinusBeta2 = new Vector<float>(c.OneMinusBeta2);
            for (; i <= length - width; i += width)
            {
                var grad = g.Load(start + i) * scale;
                var secondMoment = Vector.FusedMultiplyAdd(oneMinusBeta2 * grad, grad, Vector.Load(v + i) * beta2);
                Vector.Store(secondMoment, v + i);
                Vector.Store(secondMoment, root + i);
            }
        }
        for (; i < length; i++)
        {
            float grad = g.LoadOne(start + i) * c.GradScale;
            v[i] = root[i] = MathF.FusedMultiplyAdd(c.OneMinusBeta2 * grad, grad, v[i] * c.Beta2);
        }
    }

    /// <summary>
    /// <c>m = lerp(m, g', w)</c> as libtorch computes it, then <c>p = p * decay + (-step_size * m) / (s / bc2 + eps)</c>, with
    /// <c>s = sqrt(v)</c> from torch (<paramref name="s"/> from the block's first element).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FirstMomentAndParameter<TGradients>(TGradients g, float* p, float* m, float* s, long start, long length, Coefficients c)
        where TGradients : struct, IGradients
    {
        p += start;
        m += start;
        long i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            int width = Vector<float>.Count;
            var scale = new Vector<float>(c.GradScale);
            var decay = new Vector<float>(c.Decay);
            var lerpCoefficient = new Vector<float>(c.LerpCoefficient);
            bool lerpFromEnd = c.LerpFromEnd;
            var biasCorrection2Sqrt = new Vector<float>(c.BiasCorrection2Sqrt);
            var epsilon = new Vector<float>(c.Epsilon);
            var negativeStepSize = new Vector<float>(c.NegativeStepSize);
            for (; i <= length - width; i += width)
            {
                var grad = g.Load(start + i) * scale;
                var expAvg = Vector.Load(m + i);
                expAvg = Vector.FusedMultiplyAdd(lerpCoefficient, grad - expAvg, lerpFromEnd ? grad : expAvg);
                var denom = Vector.Load(s + i) / biasCorrection2Sqrt + epsilon;
                Vector.Store(Vector.Load(p + i) * decay + negativeStepSize * expAvg / denom, p + i);
                Vector.Store(expAvg, m + i);
            }
        }
        float lerpCoefficientScalar = c.LerpCoefficient;
        bool lerpFromEndScalar = c.LerpFromEnd;
        for (; i < length; i++)
        {
            float grad = g.LoadOne(start + i) * c.GradScale;
            float expAvg = MathF.FusedMultiplyAdd(lerpCoefficientScalar, grad - m[i], lerpFromEndScalar ? grad : m[i]);
            float denom = s[i] / c.BiasCorrection2Sqrt + c.Epsilon;
            p[i] = p[i] * c.Decay + c.NegativeStepSize * expAvg / denom;
            m[i] = expAvg;
        }
    }
}
