using Lm.Runtime.Models;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Models;

public class HfActivationsTests
{
    private static readonly double[] Inputs = [-6, -3, -1.5, -0.5, -1e-3, 0, 1e-3, 0.3, 1, 2.5, 4, 8];

    [Fact]
    public void Gelu_new_is_the_tanh_formula()
    {
        using var x = tensor(Inputs, dtype: ScalarType.Float64);
        using var y = HfActivations.Apply("gelu_new", x);
        for (int i = 0; i < Inputs.Length; i++)
        {
            double v = Inputs[i];
            double expected = 0.5 * v * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));
            Assert.Equal(expected, y[i].item<double>(), 12);
        }
    }

    [Fact]
    public void Gelu_is_the_exact_erf_form()
    {
        using var x = tensor(Inputs, dtype: ScalarType.Float64);
        using var y = HfActivations.Apply("gelu", x);
        for (int i = 0; i < Inputs.Length; i++)
        {
            double v = Inputs[i];
            double expected = 0.5 * v * (1 + Erf(v / Math.Sqrt(2)));
            Assert.Equal(expected, y[i].item<double>(), 7);
        }
    }

    [Fact]
    public void Gelu_new_and_erf_gelu_differ_measurably()
    {
        using var x = tensor(new[] { -1.5 }, dtype: ScalarType.Float64);
        double tanhForm = HfActivations.Apply("gelu_new", x).item<double>();
        double erfForm = HfActivations.Apply("gelu", x).item<double>();
        // Python's math module: 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))) and 0.5·x·(1 + erf(x/√2)) at x = -1.5.
        Assert.Equal(-0.10042842301976707, tanhForm, 14);
        Assert.Equal(-0.10021080190328713, erfForm, 14);
    }

    [Fact]
    public void Gelu_new_gradient_sums_its_three_paths_in_the_order_HFs_graph_does()
    {
        // HF's `0.5 * input * (1.0 + tanh(c * (input + k * input ** 3)))` records 0.5·x first; autograd runs the
        // later nodes first, so x's gradient is (from the sum + from the cube) + from 0.5·x, each float-rounded.
        // Every node's backward is written out here in float (libtorch's tanh backward contracts 1 - t·t into an
        // FMA; its tanh itself is taken from torch, as no other tanh rounds like its vectorised one).
        const int count = 20_000;
        using var x = randn(count, generator: new Generator(11)).mul(4.0);
        using var upstream = randn(count, generator: new Generator(12));
        using var input = x.detach().requires_grad_(true);
        using var output = HfActivations.Apply("gelu_new", input);
        output.backward([upstream]);
        using var tanh = x.add(x.pow(3.0).mul(0.044715)).mul(Math.Sqrt(2 / Math.PI)).tanh();
        float[] xs = x.data<float>().ToArray(), gs = upstream.data<float>().ToArray(), ts = tanh.data<float>().ToArray();
        float[] actual = input.grad!.data<float>().ToArray();
        float c = (float)Math.Sqrt(2 / Math.PI), k = (float)0.044715;
        int inHfOrder = 0, inOtherOrder = 0;
        for (int i = 0; i < count; i++)
        {
            float g = gs[i], v = xs[i], t = ts[i];
            float fromHalf = g * (t + 1f) * 0.5f;
            float fromSum = g * (v * 0.5f) * MathF.FusedMultiplyAdd(-t, t, 1f) * c;
            float fromCube = fromSum * k * (v * v * 3f);
            if (BitConverter.SingleToInt32Bits(fromSum + fromCube + fromHalf) == BitConverter.SingleToInt32Bits(actual[i])) inHfOrder++;
            if (BitConverter.SingleToInt32Bits(fromHalf + fromSum + fromCube) == BitConverter.SingleToInt32Bits(actual[i])) inOtherOrder++;
        }
        Assert.Equal(count, inHfOrder);
        // The data tells the orders apart: the order the graph had before 0.5·x was recorded first misses thousands.
        Assert.True(inOtherOrder < count - 1000, $"{inOtherOrder} of {count} also match the other order");
    }

    // Abramowitz–Stegun 7.1.26 is too coarse here; a series/continued fraction keeps 1e-10 accuracy.
    private static double Erf(double x)
    {
        if (x < 0) return -Erf(-x);
        if (x < 3)
        {
            double sum = 0, term = x;
            for (int n = 0; n < 200; n++)
            {
                sum += term / (2 * n + 1);
                term *= -x * x / (n + 1);
            }
            return 2 / Math.Sqrt(Math.PI) * sum;
        }
        // erfc continued fraction for large x.
        double t = 0;
        for (int k = 60; k >= 1; k--) t = k / 2.0 / (x + t);
        return 1 - Math.Exp(-x * x) / Math.Sqrt(Math.PI) / (x + t);
    }
}
