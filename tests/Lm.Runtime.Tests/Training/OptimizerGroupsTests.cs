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

public class OptimizerGroupsForHfModelsTests
{
    [Fact]
    public void Gpt2_groups_equal_HF()
    {
        using var model = Lm.Runtime.Models.LanguageModel.Create(new Lm.Runtime.Models.Gpt2Config { VocabSize = 50, NPositions = 16, NEmbd = 8, NLayer = 2, NHead = 2 }, 1);

        var (decay, noDecay) = OptimizerGroups.Split(model);

        var decayExpected = new List<string> { "transformer.wte.weight", "transformer.wpe.weight" };
        var noDecayExpected = new List<string>();
        for (int i = 0; i < 2; i++)
        {
            string h = $"transformer.h.{i}.";
            decayExpected.AddRange([h + "attn.c_attn.weight", h + "attn.c_proj.weight", h + "mlp.c_fc.weight", h + "mlp.c_proj.weight"]);
            noDecayExpected.AddRange([h + "ln_1.weight", h + "ln_1.bias", h + "attn.c_attn.bias", h + "attn.c_proj.bias",
                h + "ln_2.weight", h + "ln_2.bias", h + "mlp.c_fc.bias", h + "mlp.c_proj.bias"]);
        }
        noDecayExpected.AddRange(["transformer.ln_f.weight", "transformer.ln_f.bias"]);
        Assert.Equal(Sorted(decayExpected), Sorted(decay.Select(p => p.Name)));
        Assert.Equal(Sorted(noDecayExpected), Sorted(noDecay.Select(p => p.Name)));
    }

    [Fact]
    public void Roberta_groups_equal_HF()
    {
        using var model = Lm.Runtime.Models.LanguageModel.Create(new Lm.Runtime.Models.RobertaConfig
        {
            VocabSize = 50, HiddenWidth = 8, NumHiddenLayers = 2, NumAttentionHeads = 2, IntermediateSize = 16, MaxPositionEmbeddings = 20,
        }, 1);

        var (decay, noDecay) = OptimizerGroups.Split(model);

        var decayExpected = new List<string>
        {
            "roberta.embeddings.word_embeddings.weight", "roberta.embeddings.position_embeddings.weight",
            "roberta.embeddings.token_type_embeddings.weight", "lm_head.dense.weight",
        };
        var noDecayExpected = new List<string>
        {
            "roberta.embeddings.LayerNorm.weight", "roberta.embeddings.LayerNorm.bias",
            "lm_head.bias", "lm_head.dense.bias", "lm_head.layer_norm.weight", "lm_head.layer_norm.bias",
        };
        for (int i = 0; i < 2; i++)
        {
            string l = $"roberta.encoder.layer.{i}.";
            foreach (var dense in new[] { "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense", "intermediate.dense", "output.dense" })
            {
                decayExpected.Add(l + dense + ".weight");
                noDecayExpected.Add(l + dense + ".bias");
            }
            noDecayExpected.AddRange([l + "attention.output.LayerNorm.weight", l + "attention.output.LayerNorm.bias",
                l + "output.LayerNorm.weight", l + "output.LayerNorm.bias"]);
        }
        Assert.Equal(Sorted(decayExpected), Sorted(decay.Select(p => p.Name)));
        Assert.Equal(Sorted(noDecayExpected), Sorted(noDecay.Select(p => p.Name)));
    }

    private static List<string> Sorted(IEnumerable<string> names) => names.OrderBy(n => n, StringComparer.Ordinal).ToList();
}
