using System.Text.Json.Nodes;
using Lm.Runtime.Checkpoints;
using Lm.Runtime.Errors;
using Lm.Runtime.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Models;

[Collection(TorchRandomCollection.Name)]
public class LlamaTests
{
    // HF transformers: LlamaForCausalLM(LlamaConfig(num_hidden_layers=2, tie_word_embeddings=False)).state_dict().keys()
    // (rotary_emb.inv_freq is a non-persistent buffer, so it is not listed).
    private static readonly string[] LlamaUntiedKeys =
    [
        "model.embed_tokens.weight",
        "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight",
        "model.layers.0.self_attn.v_proj.weight", "model.layers.0.self_attn.o_proj.weight",
        "model.layers.0.mlp.gate_proj.weight", "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.down_proj.weight",
        "model.layers.0.input_layernorm.weight", "model.layers.0.post_attention_layernorm.weight",
        "model.layers.1.self_attn.q_proj.weight", "model.layers.1.self_attn.k_proj.weight",
        "model.layers.1.self_attn.v_proj.weight", "model.layers.1.self_attn.o_proj.weight",
        "model.layers.1.mlp.gate_proj.weight", "model.layers.1.mlp.up_proj.weight", "model.layers.1.mlp.down_proj.weight",
        "model.layers.1.input_layernorm.weight", "model.layers.1.post_attention_layernorm.weight",
        "model.norm.weight",
        "lm_head.weight",
    ];

    // LlamaConfig(num_hidden_layers=1, attention_bias=True, mlp_bias=True, tie_word_embeddings=True): biases on all
    // seven projections; lm_head.weight is the tied alias of model.embed_tokens.weight.
    private static readonly string[] LlamaBiasedTiedKeys =
    [
        "model.embed_tokens.weight",
        "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.q_proj.bias",
        "model.layers.0.self_attn.k_proj.weight", "model.layers.0.self_attn.k_proj.bias",
        "model.layers.0.self_attn.v_proj.weight", "model.layers.0.self_attn.v_proj.bias",
        "model.layers.0.self_attn.o_proj.weight", "model.layers.0.self_attn.o_proj.bias",
        "model.layers.0.mlp.gate_proj.weight", "model.layers.0.mlp.gate_proj.bias",
        "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.up_proj.bias",
        "model.layers.0.mlp.down_proj.weight", "model.layers.0.mlp.down_proj.bias",
        "model.layers.0.input_layernorm.weight", "model.layers.0.post_attention_layernorm.weight",
        "model.norm.weight",
        "lm_head.weight",
    ];

    // Qwen2ForCausalLM(Qwen2Config(num_hidden_layers=1, tie_word_embeddings=True)): q/k/v biases, no o_proj bias.
    private static readonly string[] Qwen2TiedKeys =
    [
        "model.embed_tokens.weight",
        "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.q_proj.bias",
        "model.layers.0.self_attn.k_proj.weight", "model.layers.0.self_attn.k_proj.bias",
        "model.layers.0.self_attn.v_proj.weight", "model.layers.0.self_attn.v_proj.bias",
        "model.layers.0.self_attn.o_proj.weight",
        "model.layers.0.mlp.gate_proj.weight", "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.down_proj.weight",
        "model.layers.0.input_layernorm.weight", "model.layers.0.post_attention_layernorm.weight",
        "model.norm.weight",
        "lm_head.weight",
    ];

    // MistralForCausalLM(MistralConfig(num_hidden_layers=1)): no biases, lm_head of its own.
    private static readonly string[] MistralUntiedKeys =
    [
        "model.embed_tokens.weight",
        "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight",
        "model.layers.0.self_attn.v_proj.weight", "model.layers.0.self_attn.o_proj.weight",
        "model.layers.0.mlp.gate_proj.weight", "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.down_proj.weight",
        "model.layers.0.input_layernorm.weight", "model.layers.0.post_attention_layernorm.weight",
        "model.norm.weight",
        "lm_head.weight",
    ];

    private static LlamaConfig TinyLlama(int layers = 2, bool tied = false, int kvHeads = 2) => new()
    {
        VocabSize = 97, HiddenWidth = 32, IntermediateSize = 48, NumHiddenLayers = layers, NumAttentionHeads = 4,
        NumKeyValueHeads = kvHeads, MaxPositionEmbeddings = 64, RmsNormEps = 1e-5, TieWordEmbeddings = tied,
        InitializerRange = 0.2,
    };

    private static Qwen2Config TinyQwen2(int layers = 1) => new()
    {
        VocabSize = 97, HiddenWidth = 32, IntermediateSize = 48, NumHiddenLayers = layers, NumAttentionHeads = 4,
        NumKeyValueHeads = 2, MaxPositionEmbeddings = 64, TieWordEmbeddings = true, InitializerRange = 0.2,
    };

    private static MistralConfig TinyMistral(int? window, int layers = 1) => new()
    {
        VocabSize = 97, HiddenWidth = 32, IntermediateSize = 48, NumHiddenLayers = layers, NumAttentionHeads = 4,
        NumKeyValueHeads = 2, MaxPositionEmbeddings = 64, SlidingWindow = window, InitializerRange = 0.2,
    };

    private static LlamaForCausalLM Build(LlamaFamilyConfig config, long seed = 3)
    {
        torch.manual_seed(seed);
        var model = new LlamaForCausalLM(config);
        model.eval();
        return model;
    }

    private static double MaxDiff(Tensor a, Tensor b) => a.to(ScalarType.Float64).sub(b.to(ScalarType.Float64)).abs().max().item<double>();

    private static List<string> KeysWithAliases(LanguageModel model) =>
        model.named_parameters().Select(p => p.name).Concat(model.TiedWeights.Keys).ToList();

    [Fact]
    public void State_dict_names_are_hf_names_for_llama_qwen2_and_mistral_tied_and_untied()
    {
        using (var llama = Build(TinyLlama()))
        {
            Assert.Equal(LlamaUntiedKeys, llama.named_parameters().Select(p => p.name));
            Assert.Empty(llama.TiedWeights);
            Assert.Empty(llama.named_buffers());
        }
        using (var biased = Build(TinyLlama(layers: 1, tied: true) with { AttentionBias = true, MlpBiasFlag = true }))
        {
            Assert.Equal(LlamaBiasedTiedKeys.Order(), KeysWithAliases(biased).Order());
            Assert.DoesNotContain("lm_head.weight", biased.named_parameters().Select(p => p.name));
            Assert.Equal("model.embed_tokens.weight", biased.TiedWeights["lm_head.weight"]);
        }
        using (var qwen = Build(TinyQwen2()))
        {
            Assert.Equal(Qwen2TiedKeys.Order(), KeysWithAliases(qwen).Order());
            Assert.Equal(Qwen2TiedKeys.Length - 1, qwen.named_parameters().Count());
        }
        using (var mistral = Build(TinyMistral(window: 4)))
            Assert.Equal(MistralUntiedKeys, mistral.named_parameters().Select(p => p.name));
    }

    [Fact]
    public void Tied_head_is_one_parameter_and_the_logits_use_the_embedding()
    {
        using var model = Build(TinyQwen2());
        var embedding = model.StateDict()["model.embed_tokens.weight"];
        Assert.Equal(model.Config.ParameterCount(), model.ParameterCount());
        using var ids = tensor(new long[] { 1, 2, 3 }).unsqueeze(0);
        using var noGrad = no_grad();
        var output = model.Forward(ids);
        // Changing the embedding changes the head with it: one tensor, not two copies.
        embedding[5].add_(1.0);
        var after = model.Forward(ids);
        Assert.True(MaxDiff(output.Logits.select(-1, 5), after.Logits.select(-1, 5)) > 1e-3);
    }

    [Fact]
    public void Parameter_count_of_the_smollm2_135m_shape_is_hfs_without_building_it()
    {
        // embed 49152 × 576 = 28,311,552; per layer q 576×576 + k, v 576×192 each + o 576×576 = 884,736,
        // gate/up/down 3 × 576 × 1536 = 2,654,208, two norms 1,152: 3,540,096 × 30 = 106,202,880; final norm 576;
        // the head is tied: 28,311,552 + 106,202,880 + 576 = 134,515,008 (HF's SmolLM2-135M num_parameters()).
        Assert.Equal(134_515_008L, ModelPresets.Config("smollm2-135m").ParameterCount());
        // Qwen2.5-0.5B: 494,032,768 as HF reports it (q/k/v biases, tied head).
        Assert.Equal(494_032_768L, ModelPresets.Config("qwen2.5-0.5b").ParameterCount());
        // Llama-3.2-1B: 1,235,814,400 (tied head).
        Assert.Equal(1_235_814_400L, ModelPresets.Config("llama-3.2-1b").ParameterCount());
        foreach (LlamaFamilyConfig config in new LlamaFamilyConfig[]
                 {
                     TinyLlama(), TinyLlama(tied: true) with { AttentionBias = true, MlpBiasFlag = true }, TinyQwen2(), TinyMistral(4),
                 })
        {
            using var model = Build(config);
            Assert.Equal(model.ParameterCount(), config.ParameterCount());
        }
    }

    [Fact]
    public void Logits_at_a_position_do_not_depend_on_later_tokens()
    {
        using var model = Build(TinyLlama());
        using var noGrad = no_grad();
        using var first = tensor(new long[] { 5, 17, 3, 88, 41, 9, 60, 2 }).unsqueeze(0);
        using var second = tensor(new long[] { 5, 17, 3, 88, 41, 70, 11, 44 }).unsqueeze(0);
        var a = model.Forward(first).Logits;
        var b = model.Forward(second).Logits;
        Assert.True(MaxDiff(a[.., ..5], b[.., ..5]) < 1e-6);
        Assert.True(MaxDiff(a[.., 5], b[.., 5]) > 1e-3);
    }

    [Fact]
    public void Grouped_query_attention_equals_full_attention_with_repeated_key_value_heads()
    {
        using var grouped = Build(TinyLlama(kvHeads: 2));
        using var full = Build(TinyLlama(kvHeads: 4), seed: 9);
        var source = grouped.StateDict();
        using (no_grad())
        {
            foreach (var (name, parameter) in full.StateDict())
            {
                var value = source[name];
                if (name.EndsWith("k_proj.weight", StringComparison.Ordinal) || name.EndsWith("v_proj.weight", StringComparison.Ordinal))
                {
                    // Key/value head g serves query heads 2g and 2g + 1: the full model's head h is the grouped model's h / 2.
                    value = value.view(2, 1, 8, 32).expand(2, 2, 8, 32).reshape(32, 32);
                }
                parameter.copy_(value);
            }
        }
        using var ids = tensor(new long[] { 4, 8, 15, 16, 23, 42 }).unsqueeze(0);
        using var noGrad = no_grad();
        Assert.True(MaxDiff(grouped.Forward(ids).Logits, full.Forward(ids).Logits) < 1e-5);
    }

    private static (Tensor Cos, Tensor Sin) Rotary(LlamaFamilyConfig config, long[] positions)
    {
        using var rotary = new LlamaRotaryEmbedding(config);
        using var ids = tensor(positions).unsqueeze(0);
        return rotary.Forward(ids, ScalarType.Float32);
    }

    [Fact]
    public void Rotary_embedding_preserves_norms_and_makes_scores_depend_only_on_relative_position()
    {
        var config = TinyLlama() with { HiddenWidth = 64, NumAttentionHeads = 4 }; // head_dim 16
        torch.manual_seed(5);
        using var q = randn(1, 1, 1, 16);
        using var k = randn(1, 1, 1, 16);
        double Score(long m, long n)
        {
            using var scope = NewDisposeScope();
            var (cos, sin) = Rotary(config, [m, n]);
            var (qm, _) = LlamaRotaryEmbedding.Apply(q, q, cos[.., 0..1], sin[.., 0..1]);
            var (_, kn) = LlamaRotaryEmbedding.Apply(k, k, cos[.., 1..2], sin[.., 1..2]);
            Assert.Equal(q.norm().item<float>(), qm.norm().item<float>(), 4);
            return qm.mul(kn).sum().item<float>();
        }
        double reference = Score(3, 1);
        Assert.Equal(reference, Score(8, 6), 4);
        Assert.Equal(reference, Score(40, 38), 4);
        // A different distance gives a different score: positions do enter.
        Assert.True(Math.Abs(reference - Score(3, 2)) > 1e-3);
    }

    [Fact]
    public void Rotate_half_pairs_the_first_half_with_the_second()
    {
        using var x = tensor(new float[] { 1, 2, 3, 4, 5, 6 }).view(1, 1, 1, 6);
        using var rotated = LlamaRotaryEmbedding.RotateHalf(x);
        Assert.Equal(new float[] { -4, -5, -6, 1, 2, 3 }, rotated.data<float>().ToArray());
    }

    [Fact]
    public void Inverse_frequencies_follow_rope_theta_and_each_scaling_type()
    {
        const int dim = 64;
        double[] Expected(double theta) => Enumerable.Range(0, dim / 2).Select(i => 1.0 / Math.Pow(theta, 2.0 * i / dim)).ToArray();
        float[] Actual(LlamaFamilyConfig config, long length = 0)
        {
            using var inverse = RotaryScaling.Parse(config).InverseFrequencies(config.RopeTheta, dim, length);
            return inverse.data<float>().ToArray();
        }
        void Near(double[] expected, float[] actual)
        {
            Assert.Equal(expected.Length, actual.Length);
            for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= 2e-6 * expected[i], $"{i}: {expected[i]} vs {actual[i]}");
        }
        var plain = new LlamaConfig { RopeTheta = 500000.0, MaxPositionEmbeddings = 100 };
        Near(Expected(500000.0), Actual(plain));
        Near(Expected(500000.0).Select(f => f / 4).ToArray(),
            Actual(plain with { RopeScaling = new JsonObject { ["type"] = "linear", ["factor"] = 4.0 } }));

        // dynamic: unchanged up to max_position_embeddings, then θ' = θ × (f·L/max − (f − 1))^(d/(d − 2)).
        var dynamic = plain with { RopeScaling = new JsonObject { ["rope_type"] = "dynamic", ["factor"] = 2.0 } };
        Near(Expected(500000.0), Actual(dynamic, 100));
        Near(Expected(500000.0 * Math.Pow(2.0 * 150 / 100 - 1, dim / (dim - 2.0))), Actual(dynamic, 150));

        // llama3 (Llama 3.1/3.2): long wavelengths divided by the factor, short kept, the middle band interpolated.
        var llama3 = (LlamaConfig)ModelPresets.Config("llama-3.2-1b");
        double[] expected = Expected(500000.0).Select(f =>
        {
            double wavelen = 2 * Math.PI / f, low = 8192 / 1.0, high = 8192 / 4.0;
            if (wavelen < high) return f;
            if (wavelen > low) return f / 32;
            double smooth = (8192 / wavelen - 1.0) / (4.0 - 1.0);
            return (1 - smooth) * f / 32 + smooth * f;
        }).ToArray();
        Near(expected, Actual(llama3));
        Assert.Contains(expected, f => Math.Abs(2 * Math.PI / f) is > 2048 and < 8192);
    }

    [Fact]
    public void Unsupported_rope_scaling_is_LM0140_naming_the_type()
    {
        var yarn = new LlamaConfig { RopeScaling = new JsonObject { ["rope_type"] = "yarn", ["factor"] = 4.0 } };
        var e = Assert.Throws<LmException>(yarn.Validate);
        Assert.Equal(ErrorCodes.RopeScalingUnsupported, e.Code);
        Assert.Contains("yarn", e.Message);
        var incomplete = new LlamaConfig { RopeScaling = new JsonObject { ["rope_type"] = "llama3", ["factor"] = 8.0 } };
        Assert.Contains("low_freq_factor", Assert.Throws<LmException>(incomplete.Validate).Message);
    }

    [Fact]
    public void Rms_norm_matches_a_plain_computation_and_keeps_the_input_dtype()
    {
        using var norm = new LlamaRMSNorm(6, 1e-6);
        var weight = norm.named_parameters().Single().parameter;
        using (no_grad()) weight.copy_(tensor(new float[] { 1, 2, 0.5f, -1, 3, 0.25f }));
        float[] x = [0.5f, -1.5f, 2f, 0.25f, -3f, 1f];
        using var input = tensor(x).view(1, 6);
        float[] actual = norm.forward(input).data<float>().ToArray();
        double rms = Math.Sqrt(x.Select(v => (double)v * v).Average() + 1e-6);
        float[] w = [1, 2, 0.5f, -1, 3, 0.25f];
        for (int i = 0; i < 6; i++) Assert.Equal(w[i] * x[i] / rms, actual[i], 5);

        using var bf16 = input.to(ScalarType.BFloat16);
        norm.to(ScalarType.BFloat16);
        Assert.Equal(ScalarType.BFloat16, norm.forward(bf16).dtype);
    }

    [Fact]
    public void Sliding_window_hides_keys_beyond_it_and_only_there()
    {
        // One layer, window 3: query i sees keys i-2, i-1, i.
        using var model = Build(TinyMistral(window: 3));
        using var noGrad = no_grad();
        using var first = tensor(new long[] { 5, 17, 3, 88, 41, 9 }).unsqueeze(0);
        using var second = tensor(new long[] { 70, 17, 3, 88, 41, 9 }).unsqueeze(0);
        var a = model.Forward(first).Logits;
        var b = model.Forward(second).Logits;
        Assert.True(MaxDiff(a[.., 2], b[.., 2]) > 1e-3);
        Assert.True(MaxDiff(a[.., 3..], b[.., 3..]) < 1e-6);

        // Without a window the first token reaches every position.
        using var full = Build(TinyMistral(window: null));
        Assert.True(MaxDiff(full.Forward(first).Logits[.., 5], full.Forward(second).Logits[.., 5]) > 1e-3);
    }

    [Fact]
    public void Qwen2_slides_only_when_use_sliding_window_and_from_max_window_layers_on()
    {
        var config = TinyQwen2(layers: 3) with { SlidingWindow = 4, MaxWindowLayers = 1 };
        Assert.All(Enumerable.Range(0, 3), layer => Assert.Null(config.SlidingWindowFor(layer)));
        var sliding = config with { UseSlidingWindow = true };
        Assert.Equal(new int?[] { null, 4, 4 }, Enumerable.Range(0, 3).Select(sliding.SlidingWindowFor));
        Assert.Equal(4, TinyMistral(4).SlidingWindowFor(0));
        Assert.Null(TinyLlama().SlidingWindowFor(1));
    }

    [Fact]
    public void Left_padding_with_position_ids_from_the_mask_gives_the_unpadded_logits()
    {
        using var model = Build(TinyQwen2(layers: 2));
        using var noGrad = no_grad();
        using var plain = tensor(new long[] { 11, 22, 33 }).unsqueeze(0);
        using var padded = tensor(new long[] { 0, 0, 11, 22, 33 }).unsqueeze(0);
        using var mask = tensor(new long[] { 0, 0, 1, 1, 1 }).unsqueeze(0);
        // As generate: position_ids = cumsum(mask) - 1, padding positions set to 1.
        using var positions = mask.cumsum(1).sub(1).masked_fill(mask.eq(0), 1);
        var expected = model.Forward(plain).Logits;
        var actual = model.Forward(padded, mask, null, positions, null).Logits;
        Assert.True(MaxDiff(expected, actual[.., 2..]) < 1e-5);
    }

    [Fact]
    public void Forward_matches_an_independent_plain_loop_implementation()
    {
        // One layer, grouped-query attention (4 heads over 2 key/value heads), biases on every projection, untied head,
        // random norm weights: every part of the decoder shows in the logits.
        var config = TinyLlama(layers: 1) with { AttentionBias = true, MlpBiasFlag = true, RopeTheta = 100.0 };
        using var model = Build(config);
        var p = model.StateDict();
        using (no_grad())
        {
            foreach (var (name, parameter) in p)
                if (name.EndsWith("norm.weight", StringComparison.Ordinal) || name.EndsWith(".bias", StringComparison.Ordinal))
                    parameter.copy_(rand(parameter.shape).add(0.5));
        }
        long[] ids = [7, 3, 90, 41, 12];
        using var noGrad = no_grad();
        float[] logits = model.Forward(tensor(ids).unsqueeze(0)).Logits.data<float>().ToArray();
        double[] expected = PlainLlama.Logits(config, name => (p[name].data<float>().ToArray(), p[name].shape), ids);
        Assert.Equal(expected.Length, logits.Length);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - logits[i]) < 1e-4, $"logit {i}: {expected[i]} vs {logits[i]}");
    }

    [Fact]
    public void Save_then_load_gives_the_same_model_config_and_generation_config()
    {
        using var folder = new TempDirectory();
        var config = TinyLlama() with { EosTokenId = new JsonArray(5, 6), PadTokenId = 0 };
        using var model = Build(config);
        PretrainedModel.Save(model, folder.Path);
        using var loaded = PretrainedModel.Load(folder.Path);
        Assert.IsType<LlamaForCausalLM>(loaded);
        using var ids = tensor(new long[] { 3, 1, 4, 1, 5 }).unsqueeze(0);
        using var noGrad = no_grad();
        Assert.True(TensorAssert.Same(model.Forward(ids).Logits, loaded.Forward(ids).Logits));
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(folder.Path, "config.json")))!;
        Assert.Equal("llama", json["model_type"]!.GetValue<string>());
        Assert.Equal("[5,6]", json["eos_token_id"]!.ToJsonString());
        Assert.False(json["tie_word_embeddings"]!.GetValue<bool>());
        Assert.Equal(new long[] { 5, 6 }, ((LlamaFamilyConfig)loaded.Config).EosTokenIds);
        var generation = JsonNode.Parse(File.ReadAllText(Path.Combine(folder.Path, "generation_config.json")))!;
        Assert.Equal("[5,6]", generation["eos_token_id"]!.ToJsonString());
        Assert.Equal(0, generation["pad_token_id"]!.GetValue<int>());
        Assert.Equal(LlamaUntiedKeys.Order(StringComparer.Ordinal),
            SafeTensorsReader.ReadHeader(Path.Combine(folder.Path, "model.safetensors")).Tensors.Select(t => t.Name).Order(StringComparer.Ordinal));

        // A tied model writes the embedding once, and reads back a checkpoint that also carries lm_head.weight.
        using var tied = Build(TinyQwen2());
        PretrainedModel.Save(tied, folder.Path);
        var names = SafeTensorsReader.ReadHeader(Path.Combine(folder.Path, "model.safetensors")).Tensors.Select(t => t.Name).ToList();
        Assert.DoesNotContain("lm_head.weight", names);
        var withHead = tied.StateDict().Append(new("lm_head.weight", tied.StateDict()["model.embed_tokens.weight"])).ToList();
        SafeTensorsWriter.Write(Path.Combine(folder.Path, "model.safetensors"), withHead);
        using var reloaded = PretrainedModel.Load(folder.Path);
        Assert.True(TensorAssert.Same(tied.Forward(ids).Logits, reloaded.Forward(ids).Logits));
    }

    [Fact]
    public void Bfloat16_and_float16_checkpoints_load_into_float32_and_bfloat16()
    {
        using var folder = new TempDirectory();
        using var model = Build(TinyLlama());
        PretrainedModel.Save(model, folder.Path);
        foreach (var type in new[] { ScalarType.BFloat16, ScalarType.Float16 })
        {
            using var scope = NewDisposeScope();
            var halves = model.StateDict().Select(p => KeyValuePair.Create(p.Key, p.Value.to(type))).ToList();
            SafeTensorsWriter.Write(Path.Combine(folder.Path, "model.safetensors"), halves);
            using var asFloat = PretrainedModel.Load(folder.Path);
            using var asBf16 = PretrainedModel.Load(folder.Path, dtype: "bfloat16");
            foreach (var (name, value) in halves)
            {
                Assert.True(TensorAssert.Same(value.to(ScalarType.Float32), asFloat.StateDict()[name]), name);
                Assert.Equal(ScalarType.BFloat16, asBf16.StateDict()[name].dtype);
                Assert.True(TensorAssert.Same(value.to(ScalarType.Float32).to(ScalarType.BFloat16), asBf16.StateDict()[name]), name);
            }
        }
    }

    [Fact]
    public void Config_json_of_a_hub_checkpoint_parses_validates_and_writes_back()
    {
        const string smollm = """
            {"architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0, "bos_token_id": 0,
             "eos_token_id": 0, "head_dim": 64, "hidden_act": "silu", "hidden_size": 576, "initializer_range": 0.041666666666666664,
             "intermediate_size": 1536, "is_llama_config": true, "max_position_embeddings": 8192, "mlp_bias": false,
             "model_type": "llama", "num_attention_heads": 9, "num_hidden_layers": 30, "num_key_value_heads": 3,
             "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_interleaved": false, "rope_scaling": null, "rope_theta": 100000,
             "tie_word_embeddings": true, "torch_dtype": "bfloat16", "transformers_version": "4.40.1", "use_cache": true,
             "vocab_size": 49152}
            """;
        var config = Assert.IsType<LlamaConfig>(ModelConfig.Parse(smollm));
        Assert.Equal(134_515_008L, config.ParameterCount());
        Assert.Equal((9, 3, 64), (config.NumAttentionHeads, config.KeyValueHeadCount, config.HeadDim));
        var written = JsonNode.Parse(config.ToJson())!.AsObject();
        Assert.True(written["is_llama_config"]!.GetValue<bool>());
        Assert.Equal("1e-05", written["rms_norm_eps"]!.ToJsonString());
        Assert.True(written["tie_word_embeddings"]!.GetValue<bool>());

        const string qwen = """
            {"model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864, "num_attention_heads": 14, "num_hidden_layers": 24,
             "num_key_value_heads": 2, "vocab_size": 151936, "tie_word_embeddings": true, "eos_token_id": [151645, 151643],
             "use_sliding_window": false, "sliding_window": 32768, "max_window_layers": 21, "rope_theta": 1000000.0}
            """;
        var qwenConfig = Assert.IsType<Qwen2Config>(ModelConfig.Parse(qwen));
        Assert.Equal(new long[] { 151645, 151643 }, qwenConfig.EosTokenIds);
        Assert.Equal(494_032_768L, qwenConfig.ParameterCount());
        Assert.IsType<MistralConfig>(ModelConfig.Parse("""{"model_type": "mistral", "hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2}"""));
    }

    [Fact]
    public void Head_and_key_value_head_counts_are_checked()
    {
        LmException Problem(LlamaFamilyConfig config) => Assert.Throws<LmException>(config.Validate);
        Assert.Contains("num_key_value_heads", Problem(TinyLlama(kvHeads: 3)).Message);
        Assert.Equal(ErrorCodes.InvalidModelConfig, Problem(TinyLlama() with { HiddenWidth = 30 }).Code);
        // With head_dim given, the heads need not divide the hidden size (HF allows it).
        (TinyLlama() with { HiddenWidth = 30, HeadDimension = 8 }).Validate();
        Assert.Contains("even", Problem(TinyLlama() with { HeadDimension = 7 }).Message);
        Assert.Equal(ErrorCodes.ModelConfigOutOfBounds,
            Problem(TinyLlama() with { HiddenWidth = int.MaxValue / 2, IntermediateSize = int.MaxValue, NumAttentionHeads = 1, NumKeyValueHeads = 1 }).Code);
        Assert.Contains("eos_token_id", Problem(TinyLlama() with { EosTokenId = JsonValue.Create("x") }).Message);
    }

    [Fact]
    public void Padding_row_starts_at_zero_and_gets_no_gradient()
    {
        using var model = Build(TinyLlama() with { PadTokenId = 1 });
        model.train();
        var embedding = model.StateDict()["model.embed_tokens.weight"];
        Assert.Equal(0f, embedding[1].abs().sum().item<float>());
        using var ids = tensor(new long[] { 1, 4, 1, 9 }).unsqueeze(0);
        model.Forward(ids, labels: ids).Loss!.backward();
        Assert.Equal(0f, embedding.grad!.select(0, 1).abs().sum().item<float>());
        Assert.True(embedding.grad!.select(0, 4).abs().sum().item<float>() > 0);
    }

    [Fact]
    public void Presets_build_the_hub_shapes()
    {
        var smollm = (LlamaConfig)ModelPresets.Config("smollm2-135m");
        Assert.Equal(["LlamaForCausalLM"], smollm.Architectures!);
        var qwen = (Qwen2Config)ModelPresets.Config("qwen2.5-0.5b");
        Assert.True(qwen.QkvBias && !qwen.OutputBias && qwen.TiesWordEmbeddings);
        var llama = (LlamaConfig)ModelPresets.Config("llama-3.2-1b");
        Assert.Equal("32.0", llama.RopeScaling!["factor"]!.ToJsonString());
        Assert.Contains("\"rope_scaling\": {", llama.ToJson());
        using var tiny = ModelPresets.Create("tiny-llama", seed: 1);
        Assert.Equal("LlamaForCausalLM", tiny.ArchitectureName);
        using var tinyQwen = ModelPresets.Create("tiny-qwen2", seed: 1);
        Assert.Equal("Qwen2ForCausalLM", tinyQwen.ArchitectureName);
    }

    [Fact]
    public void Bfloat16_model_computes_close_to_float32_with_a_float32_softmax()
    {
        using var model = Build(TinyQwen2(layers: 2));
        using var ids = tensor(new long[] { 3, 14, 15, 92, 65, 35 }).unsqueeze(0);
        using var noGrad = no_grad();
        var expected = model.Forward(ids).Logits;
        model.to(ScalarType.BFloat16);
        var actual = model.Forward(ids, labels: ids);
        Assert.Equal(ScalarType.BFloat16, actual.Logits.dtype);
        Assert.Equal(ScalarType.Float32, actual.Loss!.dtype);
        // bf16 keeps 8 bits of mantissa: logits of size ~1 agree to a few hundredths.
        double difference = MaxDiff(expected, actual.Logits);
        Assert.True(difference < 0.1, $"max difference {difference}");
    }

    [Theory]
    [InlineData("tiny-llama")]
    [InlineData("tiny-qwen2")]
    [InlineData("smollm2-135m")]
    [InlineData("qwen2.5-0.5b")]
    [InlineData("llama-3.2-1b")]
    public void Preset_configs_write_json_that_reads_back_to_the_same_json_and_train_as_causal_lms(string preset)
    {
        var config = ModelPresets.Config(preset);
        string json = config.ToJson();
        Assert.Equal(json, ModelConfig.Parse(json).ToJson());
        Assert.Equal("clm", Lm.Runtime.Jobs.FineTuneJob.ObjectiveFor(null, config.ModelType));
    }

    [Fact]
    public void Mistral_config_writes_its_sliding_window_and_reads_null_as_full_attention()
    {
        var config = TinyMistral(window: null);
        var written = JsonNode.Parse(config.ToJson())!;
        Assert.Equal("mistral", written["model_type"]!.GetValue<string>());
        Assert.True(written.AsObject().ContainsKey("sliding_window"));
        Assert.Null(written["sliding_window"]);
        Assert.Null(((MistralConfig)ModelConfig.Parse(config.ToJson())).SlidingWindowFor(0));
        Assert.Equal("clm", Lm.Runtime.Jobs.FineTuneJob.ObjectiveFor(null, "mistral"));
    }

    private sealed class TempDirectory : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("lm-llama-").FullName;

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}

/// <summary>
/// Llama written as loops over doubles from the paper's equations and HF's documentation, using no lm-tune model code:
/// the reference the model's logits are checked against.
/// </summary>
internal static class PlainLlama
{
    public static double[] Logits(LlamaFamilyConfig c, Func<string, (float[] Values, long[] Shape)> weight, long[] ids)
    {
        int t = ids.Length, h = c.HiddenWidth, heads = c.NumAttentionHeads, kv = c.KeyValueHeadCount, d = c.HeadDim, v = c.VocabSize;
        double[] W(string name) => weight(name).Values.Select(x => (double)x).ToArray();
        double[][] x = ids.Select(id => W("model.embed_tokens.weight").Skip((int)id * h).Take(h).ToArray()).ToArray();
        for (int layer = 0; layer < c.NumHiddenLayers; layer++)
        {
            string pre = $"model.layers.{layer}.";
            var normed = x.Select(row => RmsNorm(row, W(pre + "input_layernorm.weight"), c.RmsNormEps)).ToArray();
            var q = normed.Select(row => Linear(row, W(pre + "self_attn.q_proj.weight"), c.QkvBias ? W(pre + "self_attn.q_proj.bias") : null)).ToArray();
            var k = normed.Select(row => Linear(row, W(pre + "self_attn.k_proj.weight"), c.QkvBias ? W(pre + "self_attn.k_proj.bias") : null)).ToArray();
            var val = normed.Select(row => Linear(row, W(pre + "self_attn.v_proj.weight"), c.QkvBias ? W(pre + "self_attn.v_proj.bias") : null)).ToArray();
            var attended = new double[t][];
            for (int i = 0; i < t; i++)
            {
                attended[i] = new double[heads * d];
                for (int head = 0; head < heads; head++)
                {
                    int kvHead = head / (heads / kv);
                    double[] qi = Rotate(q[i].Skip(head * d).Take(d).ToArray(), i, c.RopeTheta);
                    var scores = new double[i + 1];
                    for (int j = 0; j <= i; j++)
                    {
                        double[] kj = Rotate(k[j].Skip(kvHead * d).Take(d).ToArray(), j, c.RopeTheta);
                        scores[j] = qi.Zip(kj, (a, b) => a * b).Sum() / Math.Sqrt(d);
                    }
                    double max = scores.Max();
                    double[] e = scores.Select(s => Math.Exp(s - max)).ToArray();
                    double total = e.Sum();
                    for (int j = 0; j <= i; j++)
                        for (int n = 0; n < d; n++) attended[i][head * d + n] += e[j] / total * val[j][kvHead * d + n];
                }
            }
            var o = attended.Select(row => Linear(row, W(pre + "self_attn.o_proj.weight"), c.OutputBias ? W(pre + "self_attn.o_proj.bias") : null)).ToArray();
            x = x.Select((row, i) => row.Zip(o[i], (a, b) => a + b).ToArray()).ToArray();
            var normed2 = x.Select(row => RmsNorm(row, W(pre + "post_attention_layernorm.weight"), c.RmsNormEps)).ToArray();
            x = x.Select((row, i) =>
            {
                double[] gate = Linear(normed2[i], W(pre + "mlp.gate_proj.weight"), c.MlpBias ? W(pre + "mlp.gate_proj.bias") : null);
                double[] up = Linear(normed2[i], W(pre + "mlp.up_proj.weight"), c.MlpBias ? W(pre + "mlp.up_proj.bias") : null);
                double[] inner = gate.Zip(up, (g, u) => g / (1 + Math.Exp(-g)) * u).ToArray();
                double[] down = Linear(inner, W(pre + "mlp.down_proj.weight"), c.MlpBias ? W(pre + "mlp.down_proj.bias") : null);
                return row.Zip(down, (a, b) => a + b).ToArray();
            }).ToArray();
        }
        double[] output = W(c.TiesWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight");
        return x.SelectMany(row => Linear(RmsNorm(row, W("model.norm.weight"), c.RmsNormEps), output, null)).ToArray();
    }

    private static double[] RmsNorm(double[] x, double[] w, double eps)
    {
        double rms = Math.Sqrt(x.Select(a => a * a).Average() + eps);
        return x.Select((a, i) => w[i] * a / rms).ToArray();
    }

    /// <summary>y = W x + b with W stored [out, in], as torch's Linear.</summary>
    private static double[] Linear(double[] x, double[] w, double[]? b)
    {
        int inputs = x.Length, outputs = w.Length / inputs;
        var y = new double[outputs];
        for (int o = 0; o < outputs; o++)
        {
            double sum = b?[o] ?? 0;
            for (int i = 0; i < inputs; i++) sum += w[o * inputs + i] * x[i];
            y[o] = sum;
        }
        return y;
    }

    /// <summary>RoPE on one head: dimension i pairs with i + d/2 and turns by position × θ^(−2i/d).</summary>
    private static double[] Rotate(double[] x, int position, double theta)
    {
        int half = x.Length / 2;
        var y = new double[x.Length];
        for (int i = 0; i < half; i++)
        {
            double angle = position * Math.Pow(theta, -2.0 * i / x.Length);
            y[i] = x[i] * Math.Cos(angle) - x[i + half] * Math.Sin(angle);
            y[i + half] = x[i + half] * Math.Cos(angle) + x[i] * Math.Sin(angle);
        }
        return y;
    }
}
