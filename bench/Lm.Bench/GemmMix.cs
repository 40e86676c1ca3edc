using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Bench;

/// <summary>
/// libtorch's matrix-product rate at a model's own linear shapes: for each linear (in → out), the forward product and
/// the two of its backward pass (tokens × in → out: X·Wᵀ, dY·W, dYᵀ·X), best of a few runs, in float32 and bf16; and
/// the model's mix, the rates weighted by the FLOPs each shape contributes, which a step's FLOP rate is read against
/// (MFU).
/// </summary>
internal static class GemmMix
{
    /// <summary>The mix in GFLOP/s for float32 and bf16; <paramref name="perShape"/> gets each shape's rates.</summary>
    public static (double Fp32, double Bf16) Measure(ModelShape shape, int tokens, int repeats,
        Action<int, int, int, double, double>? perShape = null)
    {
        double fp32Time = 0, bf16Time = 0, totalFlops = 0;
        foreach (var ((inFeatures, outFeatures), count) in shape.Linears)
        {
            double flops = 3 * 2.0 * tokens * inFeatures * outFeatures;
            double fp32 = TimeLinear(tokens, inFeatures, outFeatures, ScalarType.Float32, repeats);
            double bf16 = TimeLinear(tokens, inFeatures, outFeatures, ScalarType.BFloat16, repeats);
            fp32Time += count * fp32;
            bf16Time += count * bf16;
            totalFlops += count * flops;
            perShape?.Invoke(inFeatures, outFeatures, count, flops / fp32 / 1e9, flops / bf16 / 1e9);
        }
        return (totalFlops / fp32Time / 1e9, totalFlops / bf16Time / 1e9);
    }

    /// <summary>Best of <paramref name="repeats"/> for the three products of a linear layer: X·Wᵀ, dY·W, dYᵀ·X.</summary>
    private static double TimeLinear(int tokens, int inFeatures, int outFeatures, ScalarType dtype, int repeats)
    {
        using var scope = NewDisposeScope();
        var x = randn(tokens, inFeatures).to(dtype);
        var w = randn(outFeatures, inFeatures).to(dtype);
        var dy = randn(tokens, outFeatures).to(dtype);
        using (no_grad())
        {
            nn.functional.linear(x, w).Dispose(); // warm-up
            double best = double.MaxValue;
            for (int r = 0; r < repeats; r++)
            {
                var clock = Stopwatch.StartNew();
                using (var y = nn.functional.linear(x, w))
                using (var dx = dy.matmul(w))
                using (var dw = dy.t().matmul(x)) { }
                best = Math.Min(best, clock.Elapsed.TotalSeconds);
            }
            return best;
        }
    }

    public static string CpuDescription()
    {
        string name = "unknown", flags = "";
        foreach (var line in File.ReadLines("/proc/cpuinfo"))
        {
            if (line.StartsWith("model name", StringComparison.Ordinal) && name == "unknown") name = line[(line.IndexOf(':') + 1)..].Trim();
            if (line.StartsWith("flags", StringComparison.Ordinal) && flags == "") flags = line;
        }
        var features = new[] { "avx2", "avx512f", "avx512_bf16", "amx_bf16" }.Where(f => flags.Split(' ').Contains(f));
        return $"{name} ({string.Join(", ", features)})";
    }
}
