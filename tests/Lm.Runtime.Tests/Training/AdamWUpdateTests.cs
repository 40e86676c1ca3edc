using Lm.Runtime.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Training;

/// <summary>
/// AdamWUpdate (the optimizer's CPU pass) against torch's op sequence, to the bit, at lengths that exercise every
/// loop of both: shorter than a vector, a vector and one more, just below and above a parallel block, and above the
/// parallel threshold. They change the torch thread count, so they run alone.
/// </summary>
[Collection(TorchRandomCollection.Name)]
public class AdamWUpdateTests
{
    [Fact]
    public void This_libtorch_computes_AdamW_as_the_CPU_pass_does_so_the_optimizer_uses_it() =>
        Assert.True(AdamWUpdate.MatchesTorch.Value && AdamWUpdate.MatchesTorchForBFloat16Gradients.Value,
            "on Linux x64 the CPU pass must be in use for float32 and bf16 gradients (the fast path of every CPU step)");

    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 1)]
    [InlineData(17, 1)]
    [InlineData(33, 1)]
    [InlineData(AdamWUpdate.BlockSize - 1, 2)]
    [InlineData(AdamWUpdate.BlockSize + 1, 2)]
    [InlineData(AdamWUpdate.ParallelThreshold + 3, 1)]
    [InlineData(AdamWUpdate.ParallelThreshold + 3, 2)]
    public void The_CPU_pass_equals_torchs_ops_to_the_bit(long count, int threads) =>
        AssertAgrees(count, threads, ScalarType.Float32);

    [Theory]
    [InlineData(1, 1)]
    [InlineData(17, 1)]
    [InlineData(AdamWUpdate.BlockSize + 1, 2)]
    [InlineData(AdamWUpdate.ParallelThreshold + 3, 2)]
    public void The_CPU_pass_reading_a_bf16_gradient_equals_torchs_ops_on_its_float32_widening(long count, int threads) =>
        AssertAgrees(count, threads, ScalarType.BFloat16);

    [Theory]
    // Segments (the square roots' scratch) shorter than the parameter, ending inside a vector, a block, a parallel block.
    [InlineData(4_099, 1, 1_000)]
    [InlineData(AdamWUpdate.ParallelThreshold + 3, 2, AdamWUpdate.BlockSize + 7)]
    [InlineData(AdamWUpdate.ParallelThreshold + 3, 2, 3 * AdamWUpdate.ParallelThreshold)]
    public void The_CPU_pass_a_segment_at_a_time_equals_torchs_ops_to_the_bit(long count, int threads, long segmentSize)
    {
        AssertAgrees(count, threads, ScalarType.Float32, segmentSize);
        AssertAgrees(count, threads, ScalarType.BFloat16, segmentSize);
    }

    private static void AssertAgrees(long count, int threads, ScalarType gradientDtype, long? segmentSize = null)
    {
        int before = get_num_threads();
        set_num_threads(threads);
        try
        {
            Assert.True(AdamWUpdate.AgreesWithTorchOps(count, threads, gradientDtype, segmentSize),
                $"{count} elements, {threads} threads, {gradientDtype} gradient, segments of {segmentSize}");
        }
        finally
        {
            set_num_threads(before);
        }
    }

    [Fact]
    public void The_comparison_can_tell_a_fused_multiply_add_from_a_multiply_then_add()
    {
        // If the pass computed lerp as m + w * (g - m) in two roundings, the comparison above must see it.
        using var scope = NewDisposeScope();
        var generator = new Generator(20_240_607);
        var m = randn(4_099, generator: generator);
        var g = randn(4_099, generator: generator);
        var torchLerp = m.clone().lerp_(g, tensor(0.1f)).data<float>().ToArray();
        var (ms, gs) = (m.data<float>().ToArray(), g.data<float>().ToArray());
        int fusedDiffers = 0, plainDiffers = 0;
        for (int i = 0; i < ms.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(MathF.FusedMultiplyAdd(0.1f, gs[i] - ms[i], ms[i])) != BitConverter.SingleToInt32Bits(torchLerp[i])) fusedDiffers++;
            if (BitConverter.SingleToInt32Bits(ms[i] + 0.1f * (gs[i] - ms[i])) != BitConverter.SingleToInt32Bits(torchLerp[i])) plainDiffers++;
        }
        Assert.Equal(0, fusedDiffers);
        Assert.True(plainDiffers > 100, $"only {plainDiffers} of 4,099 elements tell the two apart");
    }
}
