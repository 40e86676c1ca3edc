using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Lm.Runtime.Models.CpuRandom;
using Lm.Runtime.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Models;

/// <summary>
/// torch's <c>nn.Dropout</c>, the module HF's models use, with the noise of a CPU tensor drawn by
/// <see cref="BernoulliNoise"/> instead of libtorch's serial <c>bernoulli_</c> (one thread, ~6 ns an element: a
/// tenth of distilgpt2's bf16 step went there). libtorch's CPU dropout (aten/src/ATen/native/Dropout.cpp,
/// <c>_dropout_impl</c>) is <c>noise = empty_like(input); noise.bernoulli_(1 - p); noise.div_(1 - p); input * noise</c>
/// on the default generator; this builds the same noise from the same generator state, leaves the generator where
/// bernoulli_ leaves it, and multiplies with torch's own <c>mul</c>, so the output, the autograd graph
/// (MulBackward0 by the noise) and every later draw are torch's. Anything else (eval, p of 0 or 1, another device
/// or dtype, a non-contiguous input, a libtorch whose bernoulli_ draws otherwise, as MKL's on Intel CPUs does) is
/// torch's own <c>nn.functional.dropout</c>.
/// </summary>
internal sealed class TorchDropout : nn.Module<Tensor, Tensor>
{
    private readonly double p;

    /// <summary>A dropout of probability <paramref name="p"/>, in [0, 1] as torch requires.</summary>
    public TorchDropout(double p)
        : base("Dropout")
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "dropout probability has to be between 0 and 1");
        this.p = p;
    }

    public override Tensor forward(Tensor input) => Apply(input, p, training);

    /// <summary>
    /// Whether this libtorch's default CPU bernoulli_ (and the division after it) gives the noise
    /// <see cref="BernoulliNoise"/> gives, with the generator left in the same state, decided once per process.
    /// </summary>
    internal static readonly Lazy<bool> MatchesTorch = new(AgreesWithTorch);

    /// <summary>Tests set this to compare against torch's own dropout; the models never do.</summary>
    internal static bool ForceTorch { get; set; }

    /// <summary><c>nn.functional.dropout(input, p, training)</c>, to the bit, with the CPU noise drawn faster.</summary>
    public static Tensor Apply(Tensor input, double p, bool training)
    {
        if (!UsesOwnNoise(input, p, training)) return nn.functional.dropout(input, p, training);
        using var scope = NewDisposeScope();
        var noise = empty_like(input);
        using var state = random.get_rng_state();
        if (!FillNoise(state.bytes, noise, 1 - p)) return nn.functional.dropout(input, p, training).MoveToOuterDisposeScope();
        random.set_rng_state(state);
        return input.mul(noise).MoveToOuterDisposeScope();
    }

    private static bool UsesOwnNoise(Tensor input, double p, bool training) =>
        training && p > 0 && p < 1 && !ForceTorch && input.dtype is ScalarType.Float32 or ScalarType.BFloat16
        && input.numel() > 0 && TensorMemory.Addressable(input) && MatchesTorch.Value;

    private static readonly ConcurrentDictionary<(ScalarType, double), uint> ScaleBits = new();

    /// <summary>
    /// The bits of <c>1 / keep</c> in <paramref name="dtype"/> as torch's <c>div_(keep)</c> of a one computes them,
    /// rather than a .NET division that could round otherwise (bf16 division goes through float).
    /// </summary>
    private static uint Scale(ScalarType dtype, double keep) => ScaleBits.GetOrAdd((dtype, keep), static key =>
    {
        using var one = ones(1, dtype: key.Item1);
        using var keepScalar = key.Item2.ToScalar();
        one.div_(keepScalar);
        var bytes = one.bytes;
        return key.Item1 == ScalarType.Float32 ? MemoryMarshal.Read<uint>(bytes) : MemoryMarshal.Read<ushort>(bytes);
    });

    /// <summary>Writes bernoulli_(keep).div_(keep)'s noise into the contiguous CPU <paramref name="noise"/>, advancing the state.</summary>
    internal static unsafe bool FillNoise(Span<byte> generatorState, Tensor noise, double keep)
    {
        uint scale = Scale(noise.dtype, keep);
        fixed (byte* data = noise.bytes)
        {
            return noise.dtype == ScalarType.Float32
                ? BernoulliNoise.FillSingle(generatorState, keep, scale, (float*)data, noise.numel())
                : BernoulliNoise.FillHalfWidth(generatorState, keep, (ushort)scale, (ushort*)data, noise.numel());
        }
    }

    /// <summary>
    /// On a generator of its own (the default one must not move), the noise of torch's bernoulli_ and div_ against
    /// <see cref="FillNoise"/>'s, and the generator states after, for both dtypes and lengths around the engine's
    /// 624-word regeneration, odd ones, none at all and the vector loops' remainders.
    /// </summary>
    internal static bool AgreesWithTorch()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var generator = new Generator(20_260_112);
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
        {
            foreach (double p in new[] { 0.1, 0.5 })
            {
                foreach (long count in new long[] { 0, 1, 2, 7, 311, 312, 313, 623, 624, 625, 1_249, 4_099, 20_011 })
                {
                    if (!SameAsTorch(generator, dtype, 1 - p, count)) return false;
                }
            }
        }
        return true;
    }

    /// <summary>One draw of <paramref name="count"/> elements both ways from the generator's current state; equal to the bit?</summary>
    internal static bool SameAsTorch(Generator generator, ScalarType dtype, double keep, long count)
    {
        using var scope = NewDisposeScope();
        var before = generator.get_state();
        var ours = empty(count, dtype: dtype);
        var state = before.clone();
        if (!FillNoise(state.bytes, ours, keep)) return false;
        using var keepScalar = keep.ToScalar();
        var theirs = empty(count, dtype: dtype).bernoulli_(keep, generator).div_(keepScalar);
        return ours.bytes.SequenceEqual(theirs.bytes) && state.bytes.SequenceEqual(generator.get_state().bytes);
    }
}
