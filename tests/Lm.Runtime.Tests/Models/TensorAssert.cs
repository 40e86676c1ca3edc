using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Models;

internal static class TensorAssert
{
    /// <summary>Same shape and bit-identical values.</summary>
    public static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    /// <summary>Mean cross entropy over rows whose target is not -100, computed in float64 from the logits.</summary>
    public static double CrossEntropy(Tensor logits, long[] targets)
    {
        using var scope = NewDisposeScope();
        var rows = logits.to(ScalarType.Float64);
        double total = 0;
        int count = 0;
        for (int i = 0; i < targets.Length; i++)
        {
            if (targets[i] == -100) continue;
            var row = rows[i];
            total += row.exp().sum().log().item<double>() - row[targets[i]].item<double>();
            count++;
        }
        return total / count;
    }
}
