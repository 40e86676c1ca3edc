using Lm.Runtime.Errors;
using Lm.Runtime.Native;
using static TorchSharp.torch;

namespace Lm.Runtime.Models;

/// <summary>
/// HF's <c>ACT2FN</c> activations, computed with the same operations in the same order as HF so results match
/// bit for bit: <c>gelu_new</c> is the tanh formula written out (not libtorch's tanh-approximate kernel), <c>gelu</c>
/// is the exact erf GELU.
/// </summary>
public static class HfActivations
{
    private static readonly double SqrtTwoOverPi = Math.Sqrt(2.0 / Math.PI);

    /// <summary>Applies the activation HF names <paramref name="name"/>.</summary>
    public static Tensor Apply(string name, Tensor x) => name switch
    {
        "gelu_new" => GeluNew(x),
        "gelu" => nn.functional.gelu(x),
        "gelu_pytorch_tanh" => nn.functional.gelu(x, TorchSharp.Modules.GELU.Approximate.tanh),
        "quick_gelu" => QuickGelu(x),
        "relu" => nn.functional.relu(x),
        "silu" or "swish" => nn.functional.silu(x),
        "tanh" => x.tanh(),
        _ => throw new LmException(ErrorCodes.InvalidModelConfig, $"Activation '{name}' is not supported."),
    };

    /// <summary>
    /// HF's <c>NewGELUActivation</c>: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))); on the CPU in
    /// <see cref="FusedGeluNew"/>'s passes where they give these operations' results to the bit.
    /// </summary>
    public static Tensor GeluNew(Tensor x) => FusedGeluNew.Applies(x) ? FusedGeluNew.Apply(x) : GeluNewOps(x);

    /// <summary><see cref="GeluNew"/> as HF writes it, one torch operation after another.</summary>
    internal static Tensor GeluNewOps(Tensor x)
    {
        using var scope = NewDisposeScope();
        // Python evaluates HF's `0.5 * input` before the bracket, so its graph records that product first. The order
        // decides which of the three gradients reaching x autograd sums first, and so their rounding: the same order
        // gives HF's gradient to the bit.
        var half = x.mul(ScalarCache.Of(0.5));
        var inner = x.add(x.pow(ScalarCache.Of(3.0)).mul(ScalarCache.Of(0.044715))).mul(ScalarCache.Of(SqrtTwoOverPi));
        return half.mul(inner.tanh().add(ScalarCache.Of(1.0))).MoveToOuterDisposeScope();
    }

    /// <summary>HF's <c>QuickGELUActivation</c>: x·σ(1.702·x).</summary>
    public static Tensor QuickGelu(Tensor x)
    {
        using var scope = NewDisposeScope();
        return x.mul(x.mul(ScalarCache.Of(1.702)).sigmoid()).MoveToOuterDisposeScope();
    }
}
