using Lm.Runtime.Models;
using Lm.Runtime.Tests.Data;
using Lm.Runtime.Tests.Training;
using Lm.Runtime.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Models;

/// <summary>
/// TorchDropout against torch's <c>nn.functional.dropout</c> on the default generator: output, input gradient and
/// every later draw to the bit. They seed the global generator and switch the fallback, so they run alone.
/// </summary>
[Collection(TorchRandomCollection.Name)]
public class TorchDropoutTests
{
    [Theory]
    [InlineData(ScalarType.Float32, 0.1)]
    [InlineData(ScalarType.Float32, 0.5)]
    [InlineData(ScalarType.BFloat16, 0.1)]
    [InlineData(ScalarType.BFloat16, 0.9)]
    [InlineData(ScalarType.BFloat16, 1e-3)]
    public void Output_gradient_and_the_next_draws_equal_torchs_dropout(ScalarType dtype, double p)
    {
        Assert.True(TorchDropout.MatchesTorch.Value || IsIntel(), "the fast path must be in use on this CPU");
        var theirs = Run(dtype, p, x => nn.functional.dropout(x, p, training: true));
        var ours = Run(dtype, p, x => TorchDropout.Apply(x, p, training: true));
        Assert.Equal(theirs.Output, ours.Output);
        Assert.Equal(theirs.Gradient, ours.Gradient);
        Assert.Equal(theirs.NextUniform, ours.NextUniform);
        Assert.Equal(theirs.NextNormal, ours.NextNormal);
        // Some elements were dropped and some kept: the comparison saw a mask.
        Assert.Contains((byte)0, theirs.Output);
    }

    [Fact]
    public void Eval_mode_zero_probability_and_non_contiguous_inputs_are_torchs_dropout()
    {
        using var scope = NewDisposeScope();
        var x = randn(6, 40);
        manual_seed(3);
        Assert.Equal(x.bytes.ToArray(), TorchDropout.Apply(x, 0.1, training: false).bytes.ToArray());
        Assert.Equal(x.bytes.ToArray(), TorchDropout.Apply(x, 0.0, training: true).bytes.ToArray());
        var unmoved = rand(4).data<float>().ToArray();
        manual_seed(3);
        Assert.Equal(unmoved, rand(4).data<float>().ToArray());

        var transposed = x.t();
        manual_seed(8);
        var theirs = nn.functional.dropout(transposed, 0.3, true).contiguous().bytes.ToArray();
        manual_seed(8);
        Assert.Equal(theirs, TorchDropout.Apply(transposed, 0.3, true).contiguous().bytes.ToArray());
        var doubles = x.to(ScalarType.Float64);
        manual_seed(8);
        theirs = nn.functional.dropout(doubles, 0.3, true).bytes.ToArray();
        manual_seed(8);
        Assert.Equal(theirs, TorchDropout.Apply(doubles, 0.3, true).bytes.ToArray());
    }

    [Fact]
    public void The_module_follows_train_and_eval_and_keeps_no_state()
    {
        using var scope = NewDisposeScope();
        using var dropout = new TorchDropout(0.5);
        Assert.Empty(dropout.state_dict());
        var x = ones(64);
        dropout.eval();
        Assert.Equal(x.data<float>().ToArray(), dropout.forward(x).data<float>().ToArray());
        dropout.train();
        Assert.Contains(0f, dropout.forward(x).data<float>().ToArray());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_tiny_gpt2_trains_to_the_same_losses_and_weights_as_with_torchs_dropout(bool bf16)
    {
        // 10 steps with dropout 0.1 everywhere (embeddings, attention, residuals): every mask must be torch's, or a
        // loss would differ in its last digits.
        var (torchLosses, torchWeights) = Train(forceTorch: true, bf16);
        var (ownLosses, ownWeights) = Train(forceTorch: false, bf16);
        Assert.Equal(10, torchLosses.Length);
        Assert.Equal(torchLosses, ownLosses);
        Assert.Equal(torchWeights, ownWeights);
        var (plainLosses, _) = Train(forceTorch: false, bf16, dropout: 0.0);
        Assert.NotEqual(plainLosses, ownLosses);
    }

    private static (double[] Losses, float[] Weights) Train(bool forceTorch, bool bf16, double dropout = 0.1)
    {
        TorchDropout.ForceTorch = forceTorch;
        try
        {
            return TrainerFixtures.TrainTinyGpt2(bf16, dropout);
        }
        finally
        {
            TorchDropout.ForceTorch = false;
        }
    }

    private sealed record Result(byte[] Output, byte[] Gradient, float[] NextUniform, double[] NextNormal);

    private static Result Run(ScalarType dtype, double p, Func<Tensor, Tensor> dropout)
    {
        using var scope = NewDisposeScope();
        var x = randn([4, 33, 67], generator: new Generator(17)).to(dtype).requires_grad_();
        var upstream = randn([4, 33, 67], generator: new Generator(18)).to(dtype);
        manual_seed(42);
        // A cached normal sample (randn of one double) must survive the state round trip.
        randn(1, dtype: ScalarType.Float64);
        var y = dropout(x);
        y.backward([upstream]);
        var nextUniform = rand(9).data<float>().ToArray();
        var nextNormal = randn(1, dtype: ScalarType.Float64).data<double>().ToArray();
        return new(y.detach().bytes.ToArray(), x.grad!.bytes.ToArray(), nextUniform, nextNormal);
    }

    /// <summary>Whether libtorch's bernoulli_ takes MKL's Intel-only stream here instead of the serial mt19937 draw.</summary>
    internal static bool IsIntel() =>
        File.Exists("/proc/cpuinfo") && File.ReadLines("/proc/cpuinfo").Any(l => l.StartsWith("vendor_id") && l.Contains("GenuineIntel"));
}
