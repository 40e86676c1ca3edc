using Lm.Runtime.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Models;

/// <summary>
/// gelu_new's fused passes against HF's formula as torch ops (HfActivations.GeluNewOps), output and input gradient to
/// the bit, in float32 and bf16, at lengths below a vector, around the vector widths and the parallel blocks. They
/// change the torch thread count, so they run alone.
/// </summary>
[Collection(TorchRandomCollection.Name)]
public class FusedGeluNewTests
{
    [Fact]
    public void This_libtorch_computes_gelu_new_as_the_fused_passes_do_so_models_use_them() =>
        Assert.True(FusedGeluNew.MatchesTorch.Value, "on Linux x64 the fused passes must be in use");

    [Theory]
    [InlineData(ScalarType.Float32, 1, 1)]
    [InlineData(ScalarType.Float32, 17, 1)]
    [InlineData(ScalarType.BFloat16, 1, 1)]
    [InlineData(ScalarType.BFloat16, 15, 1)]
    [InlineData(ScalarType.BFloat16, 33, 1)]
    [InlineData(ScalarType.Float32, (1 << 18) + 5, 2)]
    [InlineData(ScalarType.BFloat16, (1 << 18) + 5, 2)]
    [InlineData(ScalarType.BFloat16, 3 * (1 << 16) + 1, 2)]
    public void Output_and_gradient_equal_the_written_out_formula_to_the_bit(ScalarType dtype, long count, int threads) =>
        Assert.True(FusedGeluNew.AgreesWithTorchOps(dtype, count, threads), $"{dtype}, {count} elements, {threads} threads");

    [Fact]
    public void The_activation_takes_the_fused_passes_for_contiguous_CPU_tensors_only()
    {
        using var scope = NewDisposeScope();
        Assert.True(FusedGeluNew.Applies(ones(4, 6, dtype: ScalarType.BFloat16)));
        Assert.False(FusedGeluNew.Applies(ones(4, 6).t()));
        Assert.False(FusedGeluNew.Applies(ones(4, 6, dtype: ScalarType.Float64)));
    }

    [Fact]
    public void Without_a_graph_the_output_is_the_same()
    {
        using var scope = NewDisposeScope();
        var x = randn(1_000, generator: new Generator(3)).mul(3).to(ScalarType.BFloat16);
        using var noGrad = no_grad();
        Assert.Equal(HfActivations.GeluNewOps(x).bytes.ToArray(), HfActivations.GeluNew(x).bytes.ToArray());
    }
}
