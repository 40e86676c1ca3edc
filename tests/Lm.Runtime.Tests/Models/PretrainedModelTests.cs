using Lm.Runtime.Checkpoints;
using Lm.Runtime.Errors;
using Lm.Runtime.Models;
using TorchSharp;
using static Lm.Runtime.Tests.Models.TensorAssert;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Models;

public sealed class PretrainedModelTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("lm-pretrained-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private string Folder(string name) => Path.Combine(root, name);

    private static readonly long[,] Ids = { { 5, 17, 256, 3, 999, 42 }, { 7, 8, 9, 10, 1, 1 } };
    private static readonly long[,] Mask = { { 1, 1, 1, 1, 1, 1 }, { 1, 1, 1, 1, 0, 0 } };

    private static LanguageModel Tiny(string kind, long seed = 1) => kind switch
    {
        "gpt2" => LanguageModel.Create(TinyConfigs.Gpt2(), seed),
        "roberta" => LanguageModel.Create(TinyConfigs.Roberta(), seed),
        _ => LanguageModel.Create(TinyConfigs.Bert(), seed),
    };

    private static Tensor Logits(LanguageModel model)
    {
        model.eval();
        return model.Forward(tensor(Ids), tensor(Mask)).Logits;
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("roberta")]
    [InlineData("bert")]
    public void Save_then_load_gives_identical_logits(string kind)
    {
        using var scope = NewDisposeScope();
        using var model = Tiny(kind);
        string folder = Folder(kind);
        PretrainedModel.Save(model, folder);
        using var loaded = PretrainedModel.Load(folder);
        Assert.Equal(model.GetType(), loaded.GetType());
        Assert.True(Same(Logits(model), Logits(loaded)));
        var expected = model.Config with { Architectures = [model.ArchitectureName], TorchDtype = "float32", TransformersVersion = ModelConfig.HfTransformersVersion };
        Assert.Equal(expected.ToJson(), loaded.Config.ToJson());
    }

    [Theory]
    [InlineData("gpt2", "lm_head.weight")]
    [InlineData("roberta", "lm_head.decoder.weight")]
    [InlineData("bert", "cls.predictions.decoder.weight")]
    public void Saved_files_are_what_save_pretrained_writes(string kind, string aliasNotSaved)
    {
        using var model = Tiny(kind);
        string folder = Folder(kind);
        PretrainedModel.Save(model, folder);

        var header = SafeTensorsReader.ReadHeader(Path.Combine(folder, "model.safetensors"));
        Assert.Equal(new Dictionary<string, string> { ["format"] = "pt" }, header.Metadata);
        Assert.Equal(model.named_parameters().Select(p => p.name).Order(), header.Tensors.Select(t => t.Name).Order());
        Assert.DoesNotContain(header.Tensors, t => t.Name == aliasNotSaved);
        Assert.All(header.Tensors, t => Assert.Equal("F32", t.Dtype));
        // One dtype: the reference writer orders by name.
        Assert.Equal(header.Tensors.Select(t => t.Name).Order(StringComparer.Ordinal), header.Tensors.Select(t => t.Name));

        string config = File.ReadAllText(Path.Combine(folder, "config.json"));
        Assert.Contains($"\"architectures\": [\n    \"{model.ArchitectureName}\"\n  ],", config);
        Assert.Contains("\"torch_dtype\": \"float32\",", config);
        Assert.Contains($"\"transformers_version\": \"{ModelConfig.HfTransformersVersion}\",", config);
        var expectedFiles = kind == "gpt2"
            ? new[] { "config.json", "generation_config.json", "model.safetensors" }
            : new[] { "config.json", "model.safetensors" };
        Assert.Equal(expectedFiles, Directory.GetFiles(folder).Select(Path.GetFileName).Order());
        Assert.DoesNotContain(Directory.GetDirectories(root), d => Path.GetFileName(d).StartsWith('.'));
    }

    [Fact]
    public void Saving_writes_nothing_beside_the_folder_and_removes_only_stale_staging_inside_it()
    {
        using var model = Tiny("gpt2");
        using var other = new Lm.Runtime.Tests.Checkpoints.OtherProcess();
        string folder = Folder("model");
        // What a killed save left (its process is gone), and the save of another run still in progress.
        string killed = Path.Combine(folder, $".lm-saving-{int.MaxValue}-5-0123456789abcdef0123456789abcdef");
        string live = Path.Combine(folder, $".lm-saving-{other.Tag}-0123456789abcdef0123456789abcdef");
        Directory.CreateDirectory(killed);
        Directory.CreateDirectory(live);
        File.WriteAllText(Path.Combine(killed, "model.safetensors"), "partial");
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), "{}");

        PretrainedModel.Save(model, folder);

        Assert.Equal(["model"], Directory.EnumerateFileSystemEntries(root).Select(Path.GetFileName));
        Assert.Equal(
            new[] { Path.GetFileName(live), "config.json", "generation_config.json", "model.safetensors", "tokenizer_config.json" },
            Directory.EnumerateFileSystemEntries(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        using var loaded = PretrainedModel.Load(folder);
        Assert.Equal(model.ParameterCount(), loaded.ParameterCount());
    }

    [Fact]
    public void Generation_config_is_hfs_from_model_config()
    {
        using var model = Tiny("gpt2");
        PretrainedModel.Save(model, Folder("g"));
        Assert.Equal(
            "{\n  \"_from_model_config\": true,\n  \"bos_token_id\": 50256,\n  \"eos_token_id\": 50256,\n  \"transformers_version\": \"4.46.3\"\n}\n",
            File.ReadAllText(Path.Combine(Folder("g"), "generation_config.json")));
    }

    [Fact]
    public void A_loaded_generation_config_is_written_back()
    {
        using var model = Tiny("gpt2");
        string folder = Folder("gen");
        PretrainedModel.Save(model, folder);
        File.WriteAllText(Path.Combine(folder, "generation_config.json"), """{"do_sample": true, "max_length": 50, "transformers_version": "4.26.0"}""");
        using var loaded = PretrainedModel.Load(folder);
        PretrainedModel.Save(loaded, Folder("gen2"));
        Assert.Equal("{\n  \"do_sample\": true,\n  \"max_length\": 50,\n  \"transformers_version\": \"4.46.3\"\n}\n",
            File.ReadAllText(Path.Combine(Folder("gen2"), "generation_config.json")));
    }

    [Fact]
    public void Saving_into_an_existing_folder_keeps_other_files_and_drops_stale_shards()
    {
        string folder = Folder("existing");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), "{}");
        File.WriteAllText(Path.Combine(folder, "model-00001-of-00002.safetensors"), "old");
        File.WriteAllText(Path.Combine(folder, "model.safetensors.index.json"), "{}");
        using var model = Tiny("bert");
        PretrainedModel.Save(model, folder);
        Assert.Equal(["config.json", "model.safetensors", "tokenizer.json"], Directory.GetFiles(folder).Select(Path.GetFileName).Order());
        using var loaded = PretrainedModel.Load(folder);
        using var scope = NewDisposeScope();
        Assert.True(Same(Logits(model), Logits(loaded)));
    }

    /// <summary>Writes <paramref name="model"/>'s weights under other names, as hub checkpoints have them.</summary>
    private string Variant(LanguageModel model, string name, Func<Dictionary<string, Tensor>, Dictionary<string, Tensor>> edit,
        ScalarType? dtype = null)
    {
        string folder = Folder(name);
        PretrainedModel.Save(model, folder);
        using var scope = NewDisposeScope();
        var weights = model.StateDict().ToDictionary(p => p.Key, p => dtype is ScalarType t ? p.Value.to(t) : p.Value.detach());
        SafeTensorsWriter.Write(Path.Combine(folder, "model.safetensors"), edit(weights));
        return folder;
    }

    [Fact]
    public void The_original_gpt2_layout_loads_without_prefix_and_with_legacy_buffers()
    {
        using var model = Tiny("gpt2");
        string folder = Variant(model, "gpt2-original", w =>
        {
            var renamed = w.ToDictionary(p => p.Key["transformer.".Length..], p => p.Value);
            renamed["h.0.attn.bias"] = ones(1, 1, 64, 64).tril();
            renamed["h.1.attn.bias"] = ones(1, 1, 64, 64).tril();
            renamed["h.0.attn.masked_bias"] = tensor(-1e4f);
            return renamed;
        });
        using var loaded = PretrainedModel.Load(folder);
        using var scope = NewDisposeScope();
        Assert.True(Same(Logits(model), Logits(loaded)));
    }

    [Fact]
    public void A_gpt2_checkpoint_with_lm_head_weight_loads()
    {
        using var model = Tiny("gpt2");
        string folder = Variant(model, "gpt2-head", w => new(w) { ["lm_head.weight"] = w["transformer.wte.weight"].clone() });
        using var loaded = PretrainedModel.Load(folder);
        using var scope = NewDisposeScope();
        Assert.True(Same(Logits(model), Logits(loaded)));
    }

    [Fact]
    public void A_roberta_checkpoint_with_decoder_aliases_pooler_and_position_ids_loads()
    {
        using var model = Tiny("roberta");
        string folder = Variant(model, "roberta-hub", w => new(w)
        {
            ["lm_head.decoder.weight"] = w["roberta.embeddings.word_embeddings.weight"].clone(),
            ["lm_head.decoder.bias"] = w["lm_head.bias"].clone(),
            ["roberta.pooler.dense.weight"] = zeros(32, 32),
            ["roberta.pooler.dense.bias"] = zeros(32),
            ["roberta.embeddings.position_ids"] = arange(66).unsqueeze(0),
        });
        using var loaded = PretrainedModel.Load(folder);
        using var scope = NewDisposeScope();
        Assert.True(Same(Logits(model), Logits(loaded)));
    }

    [Fact]
    public void A_bert_pretraining_checkpoint_with_gamma_beta_names_loads()
    {
        using var model = Tiny("bert");
        string folder = Variant(model, "bert-hub", w =>
        {
            var renamed = w.ToDictionary(
                p => p.Key.Replace("LayerNorm.weight", "LayerNorm.gamma").Replace("LayerNorm.bias", "LayerNorm.beta"),
                p => p.Value);
            renamed["cls.seq_relationship.weight"] = zeros(2, 32);
            renamed["cls.seq_relationship.bias"] = zeros(2);
            renamed["bert.pooler.dense.weight"] = zeros(32, 32);
            renamed["cls.predictions.decoder.weight"] = w["bert.embeddings.word_embeddings.weight"].clone();
            return renamed;
        });
        using var loaded = PretrainedModel.Load(folder);
        using var scope = NewDisposeScope();
        Assert.True(Same(Logits(model), Logits(loaded)));
    }

    [Fact]
    public void A_tied_weight_stored_only_under_its_alias_fills_the_owner()
    {
        using var model = Tiny("gpt2");
        string folder = Variant(model, "alias-only", w =>
        {
            var edited = new Dictionary<string, Tensor>(w) { ["lm_head.weight"] = w["transformer.wte.weight"] };
            edited.Remove("transformer.wte.weight");
            return edited;
        });
        using var loaded = PretrainedModel.Load(folder);
        using var scope = NewDisposeScope();
        Assert.True(Same(Logits(model), Logits(loaded)));
    }

    [Theory]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void Half_precision_checkpoints_load_into_float32(ScalarType dtype)
    {
        using var model = Tiny("roberta");
        string folder = Variant(model, $"half-{dtype}", w => w, dtype);
        using var loaded = PretrainedModel.Load(folder);
        var expected = model.StateDict()["roberta.encoder.layer.0.attention.self.query.weight"].to(dtype).to(ScalarType.Float32);
        var actual = loaded.StateDict()["roberta.encoder.layer.0.attention.self.query.weight"];
        Assert.Equal(ScalarType.Float32, actual.dtype);
        Assert.True(Same(expected, actual));
    }

    [Fact]
    public void Sharded_checkpoints_load_through_their_index()
    {
        using var model = Tiny("gpt2");
        string folder = Folder("sharded");
        PretrainedModel.Save(model, folder);
        File.Delete(Path.Combine(folder, "model.safetensors"));
        var weights = model.StateDict();
        var names = weights.Keys.Order(StringComparer.Ordinal).ToList();
        var first = names.Take(10).ToList();
        SafeTensorsWriter.Write(Path.Combine(folder, "model-00001-of-00002.safetensors"), first.Select(n => KeyValuePair.Create(n, weights[n])));
        SafeTensorsWriter.Write(Path.Combine(folder, "model-00002-of-00002.safetensors"), names.Skip(10).Select(n => KeyValuePair.Create(n, weights[n])));
        var map = string.Join(",", names.Select(n => $"\"{n}\": \"model-0000{(first.Contains(n) ? 1 : 2)}-of-00002.safetensors\""));
        File.WriteAllText(Path.Combine(folder, "model.safetensors.index.json"), $"{{\"metadata\": {{\"total_size\": 1}}, \"weight_map\": {{{map}}}}}");
        using var loaded = PretrainedModel.Load(folder);
        using var scope = NewDisposeScope();
        Assert.True(Same(Logits(model), Logits(loaded)));

        File.WriteAllText(Path.Combine(folder, "model.safetensors.index.json"), """{"weight_map": {"transformer.wte.weight": "../elsewhere.safetensors"}}""");
        Assert.Equal(ErrorCodes.ShardIndexInvalid, Assert.Throws<LmException>(() => PretrainedModel.Load(folder)).Code);
        File.Delete(Path.Combine(folder, "model-00002-of-00002.safetensors"));
        File.WriteAllText(Path.Combine(folder, "model.safetensors.index.json"), $"{{\"weight_map\": {{{map}}}}}");
        Assert.Equal(ErrorCodes.ShardIndexInvalid, Assert.Throws<LmException>(() => PretrainedModel.Load(folder)).Code);
    }

    [Fact]
    public void Missing_and_unexpected_keys_are_named()
    {
        using var model = Tiny("gpt2");
        string folder = Variant(model, "mismatch", w =>
        {
            var edited = new Dictionary<string, Tensor>(w) { ["transformer.h.7.attn.c_attn.weight"] = zeros(2) };
            edited.Remove("transformer.h.1.ln_2.bias");
            return edited;
        });
        var e = Assert.Throws<LmException>(() => PretrainedModel.Load(folder));
        Assert.Equal(ErrorCodes.CheckpointKeysMismatch, e.Code);
        Assert.Contains("missing (1): transformer.h.1.ln_2.bias", e.Message);
        Assert.Contains("unexpected (1): transformer.h.7.attn.c_attn.weight", e.Message);
    }

    [Fact]
    public void A_shape_mismatch_names_the_tensor_and_both_shapes()
    {
        using var model = Tiny("bert");
        string folder = Variant(model, "shape", w => new(w) { ["cls.predictions.bias"] = zeros(999) });
        var e = Assert.Throws<LmException>(() => PretrainedModel.Load(folder));
        Assert.Equal(ErrorCodes.CheckpointShapeMismatch, e.Code);
        Assert.Contains("cls.predictions.bias", e.Message);
        Assert.Contains("[999]", e.Message);
        Assert.Contains("[1000]", e.Message);
    }

    [Fact]
    public void Pickled_weights_are_refused_with_a_way_to_convert()
    {
        string folder = Folder("pickle");
        Directory.CreateDirectory(folder);
        TinyConfigs.Gpt2().Save(Path.Combine(folder, "config.json"));
        File.WriteAllBytes(Path.Combine(folder, "pytorch_model.bin"), [0x80, 0x02, 0x63]);
        var e = Assert.Throws<LmException>(() => PretrainedModel.Load(folder));
        Assert.Equal(ErrorCodes.PickleCheckpointRefused, e.Code);
        Assert.Contains("save_pretrained", e.Message);
        Assert.Contains("safe_serialization=True", e.Message);
    }

    [Fact]
    public void Folders_without_config_or_weights_are_lm0107()
    {
        Assert.Equal(ErrorCodes.ModelFolderUnreadable, Assert.Throws<LmException>(() => PretrainedModel.Load(Folder("absent"))).Code);
        string folder = Folder("config-only");
        Directory.CreateDirectory(folder);
        Assert.Equal(ErrorCodes.ModelFolderUnreadable, Assert.Throws<LmException>(() => PretrainedModel.Load(folder)).Code);
        TinyConfigs.Bert().Save(Path.Combine(folder, "config.json"));
        Assert.Equal(ErrorCodes.ModelFolderUnreadable, Assert.Throws<LmException>(() => PretrainedModel.Load(folder)).Code);
    }

    [Fact]
    public void Loading_in_bfloat16_converts_every_parameter()
    {
        using var model = Tiny("gpt2");
        string folder = Folder("bf16");
        PretrainedModel.Save(model, folder);
        using var loaded = PretrainedModel.Load(folder, "cpu", "bfloat16");
        Assert.All(loaded.parameters(), p => Assert.Equal(ScalarType.BFloat16, p.dtype));
        using var scope = NewDisposeScope();
        var logits = Logits(loaded);
        Assert.Equal(ScalarType.BFloat16, logits.dtype);
        Assert.True(logits.to(ScalarType.Float32).allclose(Logits(model), rtol: 0.05, atol: 0.05));
        var loss = loaded.Forward(tensor(Ids), labels: tensor(Ids)).Loss!;
        Assert.Equal(ScalarType.Float32, loss.dtype);

        PretrainedModel.Save(loaded, Folder("bf16-saved"));
        Assert.Contains("\"torch_dtype\": \"bfloat16\"", File.ReadAllText(Path.Combine(Folder("bf16-saved"), "config.json")));
        Assert.All(SafeTensorsReader.ReadHeader(Path.Combine(Folder("bf16-saved"), "model.safetensors")).Tensors, t => Assert.Equal("BF16", t.Dtype));
    }
}
