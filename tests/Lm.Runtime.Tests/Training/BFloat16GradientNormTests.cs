using Lm.Runtime.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Training;

/// <summary>
/// The bf16 gradient norm read in place against torch's norm of the float32 widening (what clip_grad_norm_ computes
/// on a model whose gradients are float32 copies of bf16 ones), to the bit, at lengths below, at and around the
/// vector widths and at a model's sizes.
/// </summary>
[Collection(TorchRandomCollection.Name)]
public class BFloat16GradientNormTests
{
    [Fact]
    public void A_lane_count_reproduces_this_libtorchs_norm_so_the_optimizer_reads_bf16_gradients_in_place() =>
        Assert.Contains(BFloat16GradientNorm.Lanes.Value?.Lanes, new int?[] { 8, 16 });

    [Theory]
    [InlineData(4_099, 3e-21)]
    [InlineData(70_001, 1e-20)]
    [InlineData(70_001, 1e-2)]
    public void Tiny_gradients_whose_squares_are_subnormal_get_torchs_norm_too(long count, double scale)
    {
        using var scope = NewDisposeScope();
        var grad = randn(count, generator: new Generator(77)).mul(scale).to(ScalarType.BFloat16);
        float expected = grad.to(ScalarType.Float32).norm(2f).item<float>();
        Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(BFloat16GradientNorm.Norm(grad)));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(9)]
    [InlineData(16)]
    [InlineData(33)]
    [InlineData(768)]
    [InlineData(2_359_296)] // distilgpt2's c_fc weight
    [InlineData(2_359_301)]
    public void The_norm_equals_torchs_norm_of_the_widened_gradient_to_the_bit(long count)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator((ulong)count);
        var grad = randn(count, generator: generator).mul(3e-3).to(ScalarType.BFloat16);
        float expected = grad.to(ScalarType.Float32).norm(2f).item<float>();
        Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(BFloat16GradientNorm.Norm(grad)));
    }

    [Fact]
    public void The_lane_count_changes_the_result_so_the_check_can_tell_them_apart()
    {
        // Were both lane counts to agree on every input, the once-per-process check would prove nothing.
        using var scope = NewDisposeScope();
        var generator = new Generator(5);
        int differing = 0;
        for (int i = 0; i < 20; i++)
        {
            var grad = randn(10_007, generator: generator).to(ScalarType.BFloat16);
            if (BitConverter.SingleToInt32Bits(BFloat16GradientNorm.Norm(grad, 8)) != BitConverter.SingleToInt32Bits(BFloat16GradientNorm.Norm(grad, 16))) differing++;
        }
        Assert.True(differing >= 5, $"only {differing} of 20 gradients tell 8 lanes from 16");
    }

    [Fact]
    public void A_non_contiguous_or_float32_gradient_is_left_to_torch()
    {
        using var scope = NewDisposeScope();
        Assert.False(BFloat16GradientNorm.Applies(ones(4, 6, dtype: ScalarType.BFloat16).t()));
        Assert.False(BFloat16GradientNorm.Applies(ones(24)));
        Assert.True(BFloat16GradientNorm.Applies(ones(24, dtype: ScalarType.BFloat16)));
    }
}
