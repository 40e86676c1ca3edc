using Lm.Runtime.Models;
using Lm.Runtime.Tests.Data;
using Lm.Runtime.Tests.Training;
using Lm.Runtime.Training;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Models;

/// <summary>
/// CausalMathAttention (libtorch's math SDPA written out so its dropout goes through TorchDropout) against torch's
/// own scaled_dot_product_attention: output, the gradients of q, k and v, and the default generator's state after, to
/// the bit. They move the default generator, so they run alone.
/// </summary>
[Collection(TorchRandomCollection.Name)]
public class CausalMathAttentionTests
{
    [Fact]
    public void This_libtorch_computes_causal_attention_with_dropout_as_the_written_out_kernel_so_gpt2_uses_it() =>
        Assert.True(CausalMathAttention.MatchesTorch.Value);

    [Theory]
    [InlineData(1, 1, 2, 4, 0.1)]
    [InlineData(2, 4, 64, 16, 0.1)]
    [InlineData(3, 2, 17, 64, 0.5)]
    [InlineData(1, 12, 128, 64, 0.1)]
    public void Output_gradients_and_generator_state_equal_torchs_sdpa(long batch, long heads, long length, long headSize, double dropout) =>
        Assert.True(CausalMathAttention.AgreesWithTorch(batch, heads, length, headSize, dropout));

    [Fact]
    public void The_check_leaves_the_default_generator_where_it_was()
    {
        manual_seed(9);
        using var before = random.get_rng_state();
        Assert.True(CausalMathAttention.AgreesWithTorch(1, 2, 8, 4, 0.1));
        using var after = random.get_rng_state();
        Assert.Equal(before.bytes.ToArray(), after.bytes.ToArray());
    }

    [Fact]
    public void Outside_training_or_without_dropout_torchs_own_sdpa_serves()
    {
        using var q = randn(1, 2, 8, 4);
        Assert.True(CausalMathAttention.Applies(q, q, q, 0.1, training: true));
        Assert.False(CausalMathAttention.Applies(q, q, q, 0.1, training: false));
        Assert.False(CausalMathAttention.Applies(q, q, q, 0.0, training: true));
        using var one = randn(1, 2, 1, 4);
        Assert.False(CausalMathAttention.Applies(one, one, one, 0.1, training: true));
        using var wide = q.to(ScalarType.Float64);
        Assert.False(CausalMathAttention.Applies(wide, wide, wide, 0.1, training: true));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_tiny_gpt2_trains_to_the_same_losses_and_weights_as_with_torchs_sdpa(bool bf16)
    {
        var (torchLosses, torchWeights) = Train(forceTorch: true, bf16);
        long callsBefore = CausalMathAttention.CallCount;
        var (ownLosses, ownWeights) = Train(forceTorch: false, bf16);
        Assert.True(CausalMathAttention.CallCount > callsBefore, "the model took the written-out attention");
        Assert.Equal(10, torchLosses.Length);
        Assert.Equal(torchLosses, ownLosses);
        Assert.Equal(torchWeights, ownWeights);
    }

    private static (double[] Losses, float[] Weights) Train(bool forceTorch, bool bf16)
    {
        CausalMathAttention.ForceTorch = forceTorch;
        try
        {
            return TrainerFixtures.TrainTinyGpt2(bf16, dropout: 0.1);
        }
        finally
        {
            CausalMathAttention.ForceTorch = false;
        }
    }
}
