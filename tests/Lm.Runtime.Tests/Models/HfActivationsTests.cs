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
