using Lm.Runtime.Models;
using TorchSharp;
using static Lm.Runtime.Tests.Models.TensorAssert;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Models;

[Collection(TorchRandomCollection.Name)]
public class Gpt2Tests
{
    // HF transformers 4.46: GPT2LMHeadModel(config with n_layer=2).state_dict().keys(); the attn.bias and
    // attn.masked_bias buffers are non-persistent, lm_head.weight is the tied alias of transformer.wte.weight.
    private static readonly string[] HfStateDictKeys =
    [
        "transformer.wte.weight", "transformer.wpe.weight",
        "transformer.h.0.ln_1.weight", "transformer.h.0.ln_1.bias",
        "transformer.h.0.attn.c_attn.weight", "transformer.h.0.attn.c_attn.bias",
        "transformer.h.0.attn.c_proj.weight", "transformer.h.0.attn.c_proj.bias",
        "transformer.h.0.ln_2.weight", "transformer.h.0.ln_2.bias",
        "transformer.h.0.mlp.c_fc.weight", "transformer.h.0.mlp.c_fc.bias",
        "transformer.h.0.mlp.c_proj.weight", "transformer.h.0.mlp.c_proj.bias",
        "transformer.h.1.ln_1.weight", "transformer.h.1.ln_1.bias",
        "transformer.h.1.attn.c_attn.weight", "transformer.h.1.attn.c_attn.bias",
        "transformer.h.1.attn.c_proj.weight", "transformer.h.1.attn.c_proj.bias",
        "transformer.h.1.ln_2.weight", "transformer.h.1.ln_2.bias",
        "transformer.h.1.mlp.c_fc.weight", "transformer.h.1.mlp.c_fc.bias",
        "transformer.h.1.mlp.c_proj.weight", "transformer.h.1.mlp.c_proj.bias",
        "transformer.ln_f.weight", "transformer.ln_f.bias",
        "lm_head.weight",
    ];

    private static Gpt2LMHeadModel Tiny(long seed = 1)
    {
        torch.manual_seed(seed);
        var model = new Gpt2LMHeadModel(TinyConfigs.Gpt2());
        model.eval();
        return model;
    }

    [Fact]
    public void State_dict_names_are_hf_names_with_the_head_tied_to_wte()
    {
        using var model = Tiny();
        var names = model.named_parameters().Select(p => p.name).ToList();
        var withAliases = names.Concat(model.TiedWeights.Keys).ToList();
        Assert.Equal(HfStateDictKeys.Order(), withAliases.Order());
        Assert.Equal(HfStateDictKeys.Where(k => k != "lm_head.weight"), names);
        Assert.Equal("transformer.wte.weight", model.TiedWeights["lm_head.weight"]);
        Assert.Empty(model.named_buffers());
    }

    [Fact]
    public void Conv1D_weights_have_hf_in_out_layout()
    {
        using var model = Tiny();
        var p = model.StateDict();
        Assert.Equal(new long[] { 32, 96 }, p["transformer.h.0.attn.c_attn.weight"].shape);
        Assert.Equal(new long[] { 96 }, p["transformer.h.0.attn.c_attn.bias"].shape);
        Assert.Equal(new long[] { 32, 128 }, p["transformer.h.0.mlp.c_fc.weight"].shape);
        Assert.Equal(new long[] { 128, 32 }, p["transformer.h.0.mlp.c_proj.weight"].shape);
        Assert.Equal(new long[] { 1000, 32 }, p["transformer.wte.weight"].shape);
        Assert.Equal(new long[] { 64, 32 }, p["transformer.wpe.weight"].shape);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void Distilgpt2_has_hf_parameter_count()
    {
        // 6 layers of the gpt2 shape (about 330 MB); HF's num_parameters() for distilgpt2 is 81,912,576.
        using var model = LanguageModel.Build(new Gpt2Config { NLayer = 6 }, initialize: false);
        Assert.Equal(81_912_576, model.ParameterCount());
    }

    [Fact]
    public void Initialisation_follows_hf_init_weights()
    {
        using var model = Tiny(seed: 3);
        var p = model.StateDict();
        double Std(string name) => p[name].std().item<float>();
        // normal(0, 0.02) weights; c_proj weights normal(0, 0.02 / sqrt(2 * n_layer)); zero biases; unit LayerNorms.
        Assert.InRange(Std("transformer.wte.weight"), 0.018, 0.022);
        Assert.InRange(Std("transformer.h.0.attn.c_attn.weight"), 0.017, 0.023);
        Assert.InRange(Std("transformer.h.0.mlp.c_fc.weight"), 0.017, 0.023);
        Assert.InRange(Std("transformer.h.0.attn.c_proj.weight"), 0.008, 0.012);
        Assert.InRange(Std("transformer.h.1.mlp.c_proj.weight"), 0.008, 0.012);
        Assert.Equal(0f, p["transformer.h.0.attn.c_attn.bias"].abs().max().item<float>());
        Assert.Equal(1f, p["transformer.h.1.ln_2.weight"].min().item<float>());
        Assert.Equal(0f, p["transformer.ln_f.bias"].abs().max().item<float>());
    }

    [Fact]
    public void The_same_seed_gives_the_same_weights()
    {
        using var a = Tiny(seed: 11);
        using var b = Tiny(seed: 11);
        using var c = Tiny(seed: 12);
        Assert.True(Same(a.StateDict()["transformer.h.1.attn.c_proj.weight"], b.StateDict()["transformer.h.1.attn.c_proj.weight"]));
        Assert.False(Same(a.StateDict()["transformer.wte.weight"], c.StateDict()["transformer.wte.weight"]));
    }

    [Fact]
    public void A_future_token_does_not_change_earlier_logits()
    {
        using var model = Tiny();
        using var scope = NewDisposeScope();
        var ids = tensor(new long[] { 5, 17, 256, 3, 999, 42 }).unsqueeze(0);
        var changed = ids.clone();
        changed[0, 5] = tensor(7L);
        var first = model.Forward(ids).Logits;
        var second = model.Forward(changed).Logits;
        Assert.True(Same(first[.., ..5], second[.., ..5]));
        Assert.False(first[.., 5].allclose(second[.., 5]));
        Assert.Equal(new long[] { 1, 6, 1000 }, first.shape);
    }

    [Fact]
    public void Right_padding_does_not_change_logits_at_real_positions()
    {
        using var model = Tiny();
        using var scope = NewDisposeScope();
        var real = tensor(new long[] { 5, 17, 256, 3 }).unsqueeze(0);
        var padded = tensor(new long[,] { { 5, 17, 256, 3, 0, 0 }, { 8, 9, 10, 11, 12, 13 } });
        var mask = tensor(new long[,] { { 1, 1, 1, 1, 0, 0 }, { 1, 1, 1, 1, 1, 1 } });
        var alone = model.Forward(real).Logits;
        var batched = model.Forward(padded, mask).Logits;
        Assert.True(alone[0].allclose(batched[0, ..4], rtol: 1e-5, atol: 1e-5));
        var secondAlone = model.Forward(padded[1..]).Logits;
        Assert.True(secondAlone[0].allclose(batched[1], rtol: 1e-5, atol: 1e-5));
    }

    [Fact]
    public void Masked_keys_are_ignored_by_later_queries()
    {
        using var model = Tiny();
        using var scope = NewDisposeScope();
        // Token 1 is masked out; changing it must not change what positions 2.. see.
        var a = tensor(new long[] { 5, 17, 256, 3 }).unsqueeze(0);
        var b = tensor(new long[] { 5, 900, 256, 3 }).unsqueeze(0);
        var mask = tensor(new long[] { 1, 0, 1, 1 }).unsqueeze(0);
        var la = model.Forward(a, mask).Logits;
        var lb = model.Forward(b, mask).Logits;
        Assert.True(la[0, 2..].allclose(lb[0, 2..], rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void Loss_is_cross_entropy_of_shifted_logits_ignoring_minus_100()
    {
        using var model = Tiny();
        using var scope = NewDisposeScope();
        long[] ids = [5, 17, 256, 3, 999, 42, 7, 8];
        long[] labels = [5, 17, -100, 3, 999, -100, 7, 8];
        var output = model.Forward(tensor(ids).unsqueeze(0), labels: tensor(labels).unsqueeze(0));
        // Shift by hand: position t predicts label t + 1; the last position predicts nothing.
        long[] shifted = [.. labels[1..], -100];
        Assert.Equal(CrossEntropy(output.Logits[0], shifted), output.Loss!.item<float>(), 5);
    }

    [Fact]
    public void The_tied_weight_is_one_parameter_and_an_optimizer_step_moves_it_once()
    {
        using var model = Tiny();
        var parameters = model.parameters().ToList();
        var wte = model.StateDict()["transformer.wte.weight"];
        Assert.Single(parameters, p => p.Handle == wte.Handle);
        Assert.Equal(parameters.Count, parameters.Select(p => p.Handle).Distinct().Count());

        using var before = wte.detach().clone();
        var optimizer = optim.SGD(model.parameters(), 0.5);
        using (var scope = NewDisposeScope())
        {
            var ids = tensor(new long[] { 5, 17, 256, 3 }).unsqueeze(0);
            var loss = model.Forward(ids, labels: ids).Loss!;
            loss.backward();
        }
        using var grad = wte.grad!.clone();
        optimizer.step();
        // One SGD step moves the weight by lr × (gradient from the embedding + gradient from the head), once.
        Assert.True(wte.detach().allclose(before - grad * 0.5, rtol: 0, atol: 1e-7));
        Assert.True(grad.abs().sum().item<float>() > 0);
    }

    [Fact]
    public void Dropout_applies_in_training_and_not_in_eval()
    {
        using var model = Tiny();
        using var scope = NewDisposeScope();
        var ids = tensor(new long[] { 5, 17, 256, 3 }).unsqueeze(0);
        var a = model.Forward(ids).Logits;
        var b = model.Forward(ids).Logits;
        Assert.True(Same(a, b));
        model.train();
        var c = model.Forward(ids).Logits;
        Assert.False(a.allclose(c));
    }

    [Fact]
    public void Too_long_inputs_are_an_lm_error()
    {
        using var model = Tiny();
        using var ids = zeros(1, 65, dtype: ScalarType.Int64);
        var e = Assert.Throws<Lm.Runtime.Errors.LmException>(() => model.Forward(ids));
        Assert.Equal(Lm.Runtime.Errors.ErrorCodes.SequenceTooLong, e.Code);
    }

    [Fact]
    public void Eager_attention_equals_sdpa_for_the_default_scaling()
    {
        var config = TinyConfigs.Gpt2();
        torch.manual_seed(4);
        using var sdpa = new Gpt2LMHeadModel(config);
        torch.manual_seed(4);
        // reorder_and_upcast_attn takes HF's eager upcast path; with fp32 weights it computes the same attention.
        using var eager = new Gpt2LMHeadModel(config with { ReorderAndUpcastAttn = true });
        sdpa.eval();
        eager.eval();
        using var scope = NewDisposeScope();
        var ids = tensor(new long[,] { { 5, 17, 256, 3, 9 }, { 1, 2, 3, 4, 5 } });
        var mask = tensor(new long[,] { { 1, 1, 1, 0, 0 }, { 1, 1, 1, 1, 1 } });
        Assert.True(sdpa.Forward(ids).Logits.allclose(eager.Forward(ids).Logits, rtol: 1e-4, atol: 1e-5));
        Assert.True(sdpa.Forward(ids, mask).Logits[0, ..3].allclose(eager.Forward(ids, mask).Logits[0, ..3], rtol: 1e-4, atol: 1e-5));
    }

    [Fact]
    public void Layer_index_scaling_changes_the_scores()
    {
        var config = TinyConfigs.Gpt2();
        torch.manual_seed(4);
        using var plain = new Gpt2LMHeadModel(config);
        torch.manual_seed(4);
        using var scaled = new Gpt2LMHeadModel(config with { ScaleAttnByInverseLayerIdx = true });
        plain.eval();
        scaled.eval();
        using var scope = NewDisposeScope();
        var ids = tensor(new long[] { 5, 17, 256, 3 }).unsqueeze(0);
        var a = plain.Forward(ids).Logits;
        var b = scaled.Forward(ids).Logits;
        // Block 0 divides by 1: the first position only attends to itself, so its logits agree; later ones differ.
        Assert.True(a[0, 0].allclose(b[0, 0], rtol: 1e-5, atol: 1e-6));
        Assert.False(a[0, 3].allclose(b[0, 3], rtol: 1e-5, atol: 1e-6));
    }
}
