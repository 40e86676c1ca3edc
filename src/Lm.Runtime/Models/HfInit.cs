using Lm.Runtime.Native;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Lm.Runtime.Models;

/// <summary>
/// HF's <c>_init_weights</c>, module by module: Linear and Embedding weights ~ normal(0, initializer_range), zero biases,
/// the padding row of an Embedding zeroed, LayerNorm weight 1 and bias 0. Callers visit modules in HF's order
/// (children before parents, in registration order) so a seeded run draws the same numbers as HF.
/// </summary>
internal static class HfInit
{
    public static void Linear(Linear linear, double std)
    {
        using var noGrad = no_grad();
        linear.weight!.normal_(0, std);
        linear.bias?.zero_();
    }

    public static void Embedding(Embedding embedding, double std, long? paddingIdx)
    {
        using var noGrad = no_grad();
        embedding.weight!.normal_(0, std);
        if (paddingIdx is long row) embedding.weight[row].zero_();
    }

    public static void LayerNorm(LayerNorm norm)
    {
        using var noGrad = no_grad();
        norm.weight!.fill_(ScalarCache.Of(1.0));
        norm.bias!.zero_();
    }

    /// <summary>
    /// Consumes the random draws of an <c>nn.Linear(inFeatures, outFeatures)</c> that HF builds for a language-model
    /// head and then replaces by the tied embedding (kaiming-uniform weight, uniform bias).
    /// </summary>
    public static void DiscardedLinearConstruction(long inFeatures, long outFeatures, bool bias)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        nn.init.kaiming_uniform_(empty(outFeatures, inFeatures), Math.Sqrt(5));
        if (bias)
        {
            double bound = 1 / Math.Sqrt(inFeatures);
            nn.init.uniform_(empty(outFeatures), -bound, bound);
        }
    }

    /// <summary>Consumes the draws of HF's <c>_init_weights</c> on that discarded head: normal(0, std) over its weight.</summary>
    public static void DiscardedLinearInitialization(long inFeatures, long outFeatures, double std)
    {
        using var scope = NewDisposeScope();
        empty(outFeatures, inFeatures).normal_(0, std);
    }
}
