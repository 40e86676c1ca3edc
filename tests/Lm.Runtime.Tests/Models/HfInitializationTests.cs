using Lm.Runtime.Models;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Models;

/// <summary>
/// Seeded initialisation draws exactly what Hugging Face draws: the expected numbers come from PyTorch 1.13 replaying
/// transformers 4.46's construction order (module default inits, then <c>post_init</c> of the base model, then the
/// head, whose discarded <c>nn.Linear</c> also draws) with <c>torch.manual_seed(42)</c> on the same tiny shapes. The
/// uniform drawn after construction checks that the whole sequence consumed the same number of draws.
/// </summary>
[Collection(TorchRandomCollection.Name)]
public class HfInitializationTests
{
    private static void AssertDraws(LanguageModel model, string parameter, double[] firstThree, double sum)
    {
        var values = model.StateDict()[parameter];
        using var flat = values.reshape(-1);
        for (int i = 0; i < 3; i++) Assert.Equal(firstThree[i], flat[i].item<float>(), 1e-9);
        using var total = values.to(ScalarType.Float64).sum();
        Assert.Equal(sum, total.item<double>(), 1e-9);
    }

    [Fact]
    public void Gpt2_draws_as_hf()
    {
        using var model = LanguageModel.Create(TinyConfigs.Gpt2(), seed: 42);
        using var next = rand(1);
        AssertDraws(model, "transformer.wte.weight", [-0.008345680311322212, 0.012171725742518902, -0.015873324126005173], -0.206814584327617);
        AssertDraws(model, "transformer.wpe.weight", [-0.002501413458958268, -0.01962931454181671, 0.033454615622758865], -1.1825623779834586);
        AssertDraws(model, "transformer.h.0.attn.c_attn.weight", [0.009032158181071281, -0.0014535455266013741, -0.03817366436123848], 1.4683926800457812);
        AssertDraws(model, "transformer.h.1.mlp.c_proj.weight", [-0.005454347003251314, -0.0019239953253418207, -0.00774768553674221], -0.8631645997893429);
        Assert.Equal(0.9574053883552551, next.item<float>(), 1e-9);
    }

    [Fact]
    public void Roberta_draws_as_hf()
    {
        using var model = LanguageModel.Create(TinyConfigs.Roberta(), seed: 42);
        using var next = rand(1);
        AssertDraws(model, "roberta.embeddings.word_embeddings.weight", [0.019070003181695938, -0.014949007891118526, 0.02605968900024891], -2.3653425754118302);
        AssertDraws(model, "roberta.embeddings.position_embeddings.weight", [0.02257702127099037, 0.01287603098899126, -0.026625633239746094], 0.700567726840859);
        AssertDraws(model, "roberta.encoder.layer.1.attention.self.value.weight", [0.0037546928506344557, 0.05467941612005234, -0.041345104575157166], 0.9856429544688581);
        AssertDraws(model, "lm_head.dense.weight", [-0.0400114431977272, 0.02030096761882305, 0.004827219061553478], -1.0786975846845053);
        Assert.Equal(0.03060215711593628, next.item<float>(), 1e-9);
    }

    [Fact]
    public void Bert_draws_as_hf()
    {
        using var model = LanguageModel.Create(TinyConfigs.Bert(), seed: 42);
        using var next = rand(1);
        AssertDraws(model, "bert.embeddings.word_embeddings.weight", [0, 0, 0], -2.2959547072395594);
        AssertDraws(model, "bert.embeddings.position_embeddings.weight", [-0.009930742904543877, -0.023062188178300858, -0.0024442339781671762], 0.022055497497603938);
        AssertDraws(model, "bert.encoder.layer.1.attention.self.value.weight", [0.0007716075051575899, 0.008472534827888012, 0.021569792181253433], 0.29264099441274993);
        AssertDraws(model, "cls.predictions.transform.dense.weight", [0.04103901609778404, 0.012427126057446003, 0.031111398711800575], 0.08800719863347695);
        Assert.Equal(0.5340167880058289, next.item<float>(), 1e-9);
    }
}
