using Lm.Runtime.Models;
using Lm.Runtime.Models.CpuRandom;
using Lm.Runtime.Tests.Models;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Models.CpuRandom;

/// <summary>
/// BernoulliNoise against libtorch's own <c>bernoulli_(q).div_(q)</c> on a private generator: the noise bytes and
/// the generator state after must be equal, at lengths around the engine's 624-word regeneration (312 elements take
/// 624 words), the vector loops' remainders and the 8,192-element blocks.
/// </summary>
public class BernoulliNoiseTests
{
    private static readonly long[] Lengths =
    [
        0, 1, 2, 3, 5, 8, 15, 16, 17, 31, 33, 311, 312, 313, 623, 624, 625, 626, 1_247, 1_248, 1_249,
        4_095, 4_096, 8_191, 8_192, 8_193, 16_385, 100_003,
    ];

    [Fact]
    public void This_libtorch_draws_bernoulli_as_BernoulliNoise_unless_it_takes_MKLs_Intel_path()
    {
        // libtorch's CPU bernoulli_(double) takes MKL's stream only on Intel CPUs (DistributionKernels.cpp); on any
        // other the serial mt19937 draw this reproduces, so there the fast dropout must be in use.
        if (!TorchDropoutTests.IsIntel()) Assert.True(TorchDropout.MatchesTorch.Value, "on a non-Intel x64 CPU BernoulliNoise must match libtorch");
    }

    [Theory]
    [InlineData(0.1)]
    [InlineData(0.5)]
    [InlineData(0.9)]
    [InlineData(1e-3)]
    public void Noise_and_generator_state_equal_torchs_bernoulli_and_div_for_float32(double p) => AssertSameAsTorch(ScalarType.Float32, p);

    [Theory]
    [InlineData(0.1)]
    [InlineData(0.5)]
    [InlineData(0.9)]
    [InlineData(1e-3)]
    public void Noise_and_generator_state_equal_torchs_bernoulli_and_div_for_bfloat16(double p) => AssertSameAsTorch(ScalarType.BFloat16, p);

    private static void AssertSameAsTorch(ScalarType dtype, double p)
    {
        if (!TorchDropout.MatchesTorch.Value) return;
        using var generator = new Generator(1234 + (ulong)(p * 1000));
        foreach (long count in Lengths)
            Assert.True(TorchDropout.SameAsTorch(generator, dtype, 1 - p, count), $"{dtype}, p = {p}, {count} elements");
    }

    [Fact]
    public void The_next_draw_after_the_noise_equals_the_next_draw_after_torchs_bernoulli()
    {
        if (!TorchDropout.MatchesTorch.Value) return;
        using var scope = NewDisposeScope();
        using var ours = new Generator(99);
        using var theirs = new Generator(99);
        var state = ours.get_state();
        Assert.True(TorchDropout.FillNoise(state.bytes, empty(1_001), 0.7));
        ours.set_state(state);
        empty(1_001).bernoulli_(0.7, theirs);
        Assert.Equal(rand(37, generator: theirs).data<float>().ToArray(), rand(37, generator: ours).data<float>().ToArray());
    }

    [Fact]
    public void The_threshold_is_the_smallest_53_bit_integer_whose_uniform_is_not_below_q()
    {
        foreach (double q in new[] { 0.9, 0.5, 0.1, 1e-3, 1 - 1e-3, 0.3, Math.BitDecrement(1.0), double.Epsilon * 1e10 })
        {
            long t = BernoulliNoise.Threshold(q);
            // libtorch keeps n when n * 2^-53 < q: t - 1 is kept and t is not.
            Assert.True((t - 1) * Math.ScaleB(1.0, -53) < q, $"q = {q}: {t - 1} must be kept");
            Assert.False(t * Math.ScaleB(1.0, -53) < q, $"q = {q}: {t} must be dropped");
        }
        Assert.Equal(1L << 52, BernoulliNoise.Threshold(0.5));
    }

    [Fact]
    public void A_state_libtorch_would_read_past_its_array_is_refused()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(5);
        empty(10).bernoulli_(0.5, generator);
        var state = generator.get_state();
        var bytes = state.bytes;
        // left = 600 with next = 100: the engine would read state[100 .. 698].
        CpuGeneratorState.SetLeft(bytes, 600);
        CpuGeneratorState.SetNext(bytes, 100);
        Assert.Null(Mt19937.Read(bytes));
        Assert.False(TorchDropout.FillNoise(bytes, empty(4), 0.5));
    }
}
