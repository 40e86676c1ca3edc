using Lm.Runtime.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Training;

public class OptimizerGroupsTests
{
    [Fact]
    public void Biases_and_LayerNorm_weights_get_no_weight_decay()
    {
        using var model = new TinyLanguageModel();

        var (decay, noDecay) = OptimizerGroups.Split(model);

        Assert.Equal(new[] { "wte.weight", "mix.weight", "head.weight" }, decay.Select(p => p.Name));
        Assert.Equal(new[] { "mix.bias", "ln_f.weight", "ln_f.bias", "head.bias" }, noDecay.Select(p => p.Name));
    }

    [Fact]
    public void Norm_named_modules_get_no_weight_decay_even_when_not_LayerNorm()
    {
        using var model = new NormNames();

        var names = OptimizerGroups.DecayParameterNames(model);

        Assert.Equal(new[] { "dense.weight", "normalizer.weight" }, names);
    }

    /// <summary>Names HF 4.57's patterns exclude (<c>norm</c> as a whole segment, <c>_norm</c>, <c>rmsnorm</c>) next to ones they keep.</summary>
    private sealed class NormNames : nn.Module
    {
        private readonly Linear dense = nn.Linear(2, 2, hasBias: false);
        private readonly Linear norm = nn.Linear(2, 2, hasBias: false);
        private readonly Linear q_norm = nn.Linear(2, 2, hasBias: false);
        private readonly Linear RMSNorm = nn.Linear(2, 2, hasBias: false);
        private readonly Linear normalizer = nn.Linear(2, 2, hasBias: false);

        public NormNames() : base(nameof(NormNames)) => RegisterComponents();
    }
}
