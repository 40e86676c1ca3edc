using System.Text.Json.Nodes;
using Lm.Runtime.Checkpoints;
using Lm.Runtime.Errors;
using Lm.Runtime.Models;

namespace Lm.Runtime.Tests.Models;

public class ModelConfigTests
{
    // config.json of the gpt2 checkpoint on the hub (older transformers keys such as n_ctx included).
    private const string HubGpt2Config = """
        {
          "activation_function": "gelu_new",
          "architectures": ["GPT2LMHeadModel"],
          "attn_pdrop": 0.1,
          "bos_token_id": 50256,
          "embd_pdrop": 0.1,
          "eos_token_id": 50256,
          "initializer_range": 0.02,
          "layer_norm_epsilon": 1e-05,
          "model_type": "gpt2",
          "n_ctx": 1024,
          "n_embd": 768,
          "n_head": 12,
          "n_layer": 12,
          "n_positions": 1024,
          "resid_pdrop": 0.1,
          "summary_activation": null,
          "summary_first_dropout": 0.1,
          "summary_proj_to_labels": true,
          "summary_type": "cls_index",
          "summary_use_proj": true,
          "task_specific_params": {"text-generation": {"do_sample": true, "max_length": 50}},
          "vocab_size": 50257
        }
        """;

    [Fact]
    public void Gpt2_defaults_are_hf_defaults()
    {
        var c = new Gpt2Config();
        Assert.Equal(50257, c.VocabSize);
        Assert.Equal(1024, c.NPositions);
        Assert.Equal(768, c.NEmbd);
        Assert.Equal(12, c.NLayer);
        Assert.Equal(12, c.NHead);
        Assert.Null(c.NInner);
        Assert.Equal(3072, c.InnerSize);
        Assert.Equal("gelu_new", c.ActivationFunction);
        Assert.Equal(0.1, c.ResidPdrop);
        Assert.Equal(0.1, c.EmbdPdrop);
        Assert.Equal(0.1, c.AttnPdrop);
        Assert.Equal(1e-5, c.LayerNormEpsilon);
        Assert.Equal(0.02, c.InitializerRange);
        Assert.Equal(50256, c.BosTokenId);
        Assert.Equal(50256, c.EosTokenId);
        Assert.True(c.ScaleAttnWeights);
        Assert.False(c.ScaleAttnByInverseLayerIdx);
        Assert.False(c.ReorderAndUpcastAttn);
        Assert.Equal("GPT2LMHeadModel", c.ArchitectureName);
    }

    [Fact]
    public void Roberta_and_bert_defaults_are_hf_class_defaults()
    {
        var r = new RobertaConfig();
        Assert.Equal((50265, 1, 0, 2, 512, 2, 1e-12, "gelu", "absolute"),
            (r.VocabSize, r.PadTokenId, r.BosTokenId, r.EosTokenId, r.MaxPositionEmbeddings, r.TypeVocabSize, r.LayerNormEps, r.HiddenAct, r.PositionEmbeddingType));
        Assert.Equal(510, r.MaxPositions);
        var b = new BertConfig();
        Assert.Equal((30522, 0, (int?)null, (int?)null, 512, 2, 1e-12, 3072, 768),
            (b.VocabSize, b.PadTokenId, b.BosTokenId, b.EosTokenId, b.MaxPositionEmbeddings, b.TypeVocabSize, b.LayerNormEps, b.IntermediateSize, b.HiddenWidth));
        Assert.Equal(512, b.MaxPositions);
    }

    [Fact]
    public void Parse_picks_the_type_from_model_type_and_fills_missing_keys_with_defaults()
    {
        var config = Assert.IsType<Gpt2Config>(ModelConfig.Parse("""{"model_type":"gpt2","n_layer":6}"""));
        Assert.Equal(6, config.NLayer);
        Assert.Equal(768, config.NEmbd);
        var roberta = Assert.IsType<RobertaConfig>(ModelConfig.Parse("""{"model_type":"roberta","max_position_embeddings":514,"type_vocab_size":1,"layer_norm_eps":1e-05}"""));
        Assert.Equal((514, 1, 1e-5, 512), (roberta.MaxPositionEmbeddings, roberta.TypeVocabSize, roberta.LayerNormEps, roberta.MaxPositions));
        Assert.IsType<BertConfig>(ModelConfig.Parse("""{"model_type":"bert"}"""));
    }

    [Fact]
    public void Unsupported_model_type_names_the_supported_ones()
    {
        var e = Assert.Throws<LmException>(() => ModelConfig.Parse("""{"model_type":"t5"}"""));
        Assert.Equal(ErrorCodes.UnsupportedModelType, e.Code);
        Assert.Contains("t5", e.Message);
        Assert.Contains("gpt2, roberta, bert, llama, qwen2, mistral", e.Message);
        Assert.Equal(ErrorCodes.UnsupportedModelType, Assert.Throws<LmException>(() => ModelConfig.Parse("{}")).Code);
    }

    [Theory]
    [InlineData("""{"model_type":"gpt2","n_embd":"wide"}""")]
    [InlineData("""{"model_type":"gpt2","n_embd":100,"n_head":12}""")]
    [InlineData("""{"model_type":"gpt2",""")]
    [InlineData("""{"model_type":"gpt2","tie_word_embeddings":false}""")]
    [InlineData("""{"model_type":"bert","position_embedding_type":"relative_key"}""")]
    public void Invalid_configs_are_lm0102(string json)
    {
        Assert.Equal(ErrorCodes.InvalidModelConfig, Assert.Throws<LmException>(() => ModelConfig.Parse(json)).Code);
    }

    [Fact]
    public void A_lone_surrogate_in_config_json_is_lm0102_naming_the_key()
    {
        var error = Assert.Throws<LmException>(() => ModelConfig.Parse("""{"model_type":"gpt2","activation_function":"gelu\ud800"}"""));
        Assert.Equal(ErrorCodes.InvalidModelConfig, error.Code);
        Assert.Contains("\"activation_function\" is not valid text", error.Message);
    }

    [Fact]
    public void Writing_a_default_gpt2_config_gives_what_save_pretrained_writes()
    {
        var config = new Gpt2Config { Architectures = ["GPT2LMHeadModel"], TorchDtype = "float32", TransformersVersion = "4.46.3" };
        const string expected = """
            {
              "activation_function": "gelu_new",
              "architectures": [
                "GPT2LMHeadModel"
              ],
              "attn_pdrop": 0.1,
              "bos_token_id": 50256,
              "embd_pdrop": 0.1,
              "eos_token_id": 50256,
              "initializer_range": 0.02,
              "layer_norm_epsilon": 1e-05,
              "model_type": "gpt2",
              "n_embd": 768,
              "n_head": 12,
              "n_inner": null,
              "n_layer": 12,
              "n_positions": 1024,
              "reorder_and_upcast_attn": false,
              "resid_pdrop": 0.1,
              "scale_attn_by_inverse_layer_idx": false,
              "scale_attn_weights": true,
              "summary_activation": null,
              "summary_first_dropout": 0.1,
              "summary_proj_to_labels": true,
              "summary_type": "cls_index",
              "summary_use_proj": true,
              "torch_dtype": "float32",
              "transformers_version": "4.46.3",
              "use_cache": true,
              "vocab_size": 50257
            }

            """;
        Assert.Equal(expected.ReplaceLineEndings("\n"), config.ToJson());
    }

    [Fact]
    public void Writing_a_roberta_config_writes_its_token_ids_and_hf_float_forms()
    {
        var config = new RobertaConfig { MaxPositionEmbeddings = 514, TypeVocabSize = 1, LayerNormEps = 1e-5 };
        var written = JsonNode.Parse(config.ToJson())!.AsObject();
        Assert.Equal(["attention_probs_dropout_prob", "bos_token_id", "classifier_dropout", "eos_token_id", "hidden_act",
            "hidden_dropout_prob", "hidden_size", "initializer_range", "intermediate_size", "layer_norm_eps",
            "max_position_embeddings", "model_type", "num_attention_heads", "num_hidden_layers", "pad_token_id",
            "position_embedding_type", "type_vocab_size", "use_cache", "vocab_size"], written.Select(p => p.Key));
        Assert.Contains("\"layer_norm_eps\": 1e-05,", config.ToJson());
        Assert.Contains("\"classifier_dropout\": null,", config.ToJson());
        Assert.DoesNotContain("bos_token_id", new BertConfig().ToJson());
    }

    [Fact]
    public void A_round_trip_keeps_every_key_the_file_had()
    {
        var config = ModelConfig.Parse(HubGpt2Config);
        var again = JsonNode.Parse(config.ToJson())!.AsObject();
        var original = JsonNode.Parse(HubGpt2Config)!.AsObject();
        foreach (var (key, value) in original)
            Assert.True(JsonNode.DeepEquals(value, again[key]), $"{key}: {value?.ToJsonString()} became {again[key]?.ToJsonString()}");
        Assert.Equal(1024, again["n_ctx"]!.GetValue<int>());
        Assert.Equal(config.ToJson(), ModelConfig.Parse(config.ToJson()).ToJson());
    }

    [Fact]
    public void The_dtype_key_of_newer_transformers_is_kept_under_its_name()
    {
        var config = ModelConfig.Parse("""{"model_type":"gpt2","dtype":"bfloat16"}""") with { TorchDtype = "float32" };
        var written = JsonNode.Parse(config.ToJson())!.AsObject();
        Assert.Equal("float32", written["dtype"]!.GetValue<string>());
        Assert.False(written.ContainsKey("torch_dtype"));
    }

    [Theory]
    [InlineData(1e-5, "1e-05")]
    [InlineData(1e-12, "1e-12")]
    [InlineData(0.1, "0.1")]
    [InlineData(0.02, "0.02")]
    [InlineData(1.0, "1.0")]
    [InlineData(0.0, "0.0")]
    [InlineData(0.0001, "0.0001")]
    [InlineData(0.00012, "0.00012")]
    [InlineData(5e-5, "5e-05")]
    [InlineData(1e16, "1e+16")]
    [InlineData(1e15, "1000000000000000.0")]
    [InlineData(123.456, "123.456")]
    [InlineData(-2.5e-7, "-2.5e-07")]
    [InlineData(1.7976931348623157e308, "1.7976931348623157e+308")]
    public void Floats_are_written_as_python_repr(double value, string expected)
    {
        Assert.Equal(expected, PythonJson.FormatFloat(value));
    }

    [Fact]
    public void Python_json_escapes_non_ascii_and_sorts_keys()
    {
        var node = JsonNode.Parse("""{"b":[1,2.5,{}],"a":"é\n","c":[]}""");
        Assert.Equal("{\n  \"a\": \"\\u00e9\\n\",\n  \"b\": [\n    1,\n    2.5,\n    {}\n  ],\n  \"c\": []\n}", PythonJson.Serialize(node));
    }
}
