using Lm.Runtime.Checkpoints;
using Lm.Runtime.Errors;
using Lm.Runtime.Models;
using Lm.Runtime.Models.Lora;
using Lm.Runtime.Tests.Data;
using Lm.Runtime.Tests.Training;
using Lm.Runtime.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Models.Lora;

[Collection(TorchRandomCollection.Name)]
public class LoraTests
{
    // Hidden 32, four heads of 8, two key/value heads: q_proj and o_proj are 32 → 32, k_proj and v_proj 32 → 16.
    private static LlamaConfig TinyLlama(bool tied = false) => new()
    {
        VocabSize = 97, HiddenWidth = 32, IntermediateSize = 48, NumHiddenLayers = 2, NumAttentionHeads = 4,
        NumKeyValueHeads = 2, MaxPositionEmbeddings = 64, RmsNormEps = 1e-5, TieWordEmbeddings = tied, InitializerRange = 0.2,
    };

    private static LanguageModel Build(ModelConfig config, long seed = 3)
    {
        var model = LanguageModel.Create(config, seed);
        model.eval();
        return model;
    }

    private static Tensor Ids(long seed = 1)
    {
        var random = new Random((int)seed);
        return tensor(Enumerable.Range(0, 2 * 10).Select(_ => (long)random.Next(97)).ToArray(), [2, 10]);
    }

    private static Tensor Logits(LanguageModel model, Tensor ids)
    {
        using var noGrad = no_grad();
        return model.Forward(ids).Logits;
    }

    private static nn.Module<Tensor, Tensor> Module(LanguageModel model, string name) =>
        (nn.Module<Tensor, Tensor>)model.named_modules().Single(m => m.name == name).module;

    private static Tensor Param(LanguageModel model, string name) => model.named_parameters().Single(p => p.name == name).parameter;

    /// <summary>Gives every A and B values from a seeded normal distribution, so the adapter changes the output.</summary>
    private static void Randomize(LoraModel adapter, long seed)
    {
        manual_seed(seed);
        using var noGrad = no_grad();
        foreach (var layer in adapter.Layers)
        {
            layer.A.normal_(0, 0.3);
            layer.B.normal_(0, 0.3);
        }
    }

    private static double MaxDiff(Tensor a, Tensor b) => a.to(ScalarType.Float64).sub(b.to(ScalarType.Float64)).abs().max().item<double>();

    [Theory]
    [InlineData(false, 32.0 / 4)]
    [InlineData(true, 32.0 / 2)] // rsLoRA: alpha / sqrt(r) = 32 / 2
    public void A_lora_linear_computes_base_plus_B_A_x_times_the_scaling(bool rslora, double scaling)
    {
        using var model = Build(TinyLlama());
        var adapter = LoraModel.Apply(model, new LoraConfig { R = 4, LoraAlpha = 32, UseRslora = rslora, TargetModules = ["v_proj"] });
        Randomize(adapter, 5);
        Assert.Equal(scaling, adapter.Config.Scaling);
        var layer = Module(model, "model.layers.1.self_attn.v_proj");
        using var x = randn(3, 32, dtype: ScalarType.Float64).to(ScalarType.Float32);
        using var y = layer.call(x);

        // By hand, element by element in double: W x + (B (A x)) · scaling.
        float[] xs = x.data<float>().ToArray();
        float[] w = Param(model, "model.layers.1.self_attn.v_proj.weight").data<float>().ToArray(); // [16, 32]
        float[] a = Param(model, "model.layers.1.self_attn.v_proj.lora_A.weight").data<float>().ToArray(); // [4, 32]
        float[] b = Param(model, "model.layers.1.self_attn.v_proj.lora_B.weight").data<float>().ToArray(); // [16, 4]
        float[] ys = y.data<float>().ToArray();
        for (int row = 0; row < 3; row++)
        {
            var ax = new double[4];
            for (int k = 0; k < 4; k++)
                for (int i = 0; i < 32; i++) ax[k] += a[k * 32 + i] * (double)xs[row * 32 + i];
            for (int o = 0; o < 16; o++)
            {
                double expected = 0, update = 0;
                for (int i = 0; i < 32; i++) expected += w[o * 32 + i] * (double)xs[row * 32 + i];
                for (int k = 0; k < 4; k++) update += b[o * 4 + k] * ax[k];
                expected += update * scaling;
                Assert.True(Math.Abs(ys[row * 16 + o] - expected) < 1e-4, $"[{row},{o}]: {ys[row * 16 + o]} vs {expected}");
            }
        }
    }

    [Fact]
    public void A_lora_conv1d_adds_the_update_to_the_transposed_gpt2_weight()
    {
        using var model = Build(TinyConfigs.Gpt2());
        var adapter = LoraModel.Apply(model, new LoraConfig { R = 2, LoraAlpha = 6, TargetModules = ["c_fc"] });
        Randomize(adapter, 6);
        Assert.True(adapter.Config.FanInFanOut); // PEFT sets it for Conv1D targets
        var layer = Module(model, "transformer.h.0.mlp.c_fc");
        using var x = randn(2, 32);
        using var y = layer.call(x);
        float[] xs = x.data<float>().ToArray(), ys = y.data<float>().ToArray();
        float[] w = Param(model, "transformer.h.0.mlp.c_fc.weight").data<float>().ToArray(); // [32, 128] (in, out)
        float[] bias = Param(model, "transformer.h.0.mlp.c_fc.bias").data<float>().ToArray();
        float[] a = adapter.Layers[0].A.data<float>().ToArray(); // [2, 32]
        float[] b = adapter.Layers[0].B.data<float>().ToArray(); // [128, 2]
        Assert.Equal("transformer.h.0.mlp.c_fc", adapter.Layers[0].Name);
        for (int row = 0; row < 2; row++)
            for (int o = 0; o < 128; o++)
            {
                double expected = bias[o];
                for (int i = 0; i < 32; i++) expected += xs[row * 32 + i] * (double)w[i * 128 + o];
                for (int k = 0; k < 2; k++)
                {
                    double ax = 0;
                    for (int i = 0; i < 32; i++) ax += a[k * 32 + i] * (double)xs[row * 32 + i];
                    expected += b[o * 2 + k] * ax * 3.0;
                }
                Assert.True(Math.Abs(ys[row * 128 + o] - expected) < 1e-4, $"[{row},{o}]: {ys[row * 128 + o]} vs {expected}");
            }
    }

    [Fact]
    public void With_B_zero_the_adapted_model_equals_the_base_exactly()
    {
        foreach (ModelConfig config in new ModelConfig[] { TinyLlama(), TinyConfigs.Gpt2(), TinyConfigs.Bert(), TinyConfigs.Roberta() })
        {
            using var model = Build(config);
            using var ids = Ids();
            using var before = Logits(model, ids);
            var adapter = LoraModel.Apply(model, new LoraConfig { R = 4, TargetModulesPattern = LoraConfig.AllLinear });
            Assert.NotEmpty(adapter.Layers);
            // A was drawn (Kaiming-uniform), B is zero: PEFT's initial adapter is the identity.
            Assert.All(adapter.Layers, l => Assert.True(l.A.abs().sum().item<float>() > 0));
            Assert.All(adapter.Layers, l => Assert.Equal(0f, l.B.abs().sum().item<float>()));
            using var after = Logits(model, ids);
            Assert.True(TensorAssert.Same(before, after), config.ModelType);
        }
    }

    [Fact]
    public void Kaiming_uniform_a_sqrt5_bounds_A_by_one_over_sqrt_fan_in()
    {
        using var model = Build(TinyLlama());
        var adapter = LoraModel.Apply(model, new LoraConfig { R = 8, TargetModules = ["down_proj"] });
        // kaiming_uniform_(a=√5): gain √(2/(1+5)), bound = gain·√(3/fan_in) = 1/√fan_in; down_proj's fan_in is 48.
        double bound = 1 / Math.Sqrt(48);
        var a = adapter.Layers[0].A;
        Assert.Equal(new long[] { 8, 48 }, a.shape);
        Assert.True(a.abs().max().item<float>() <= bound);
        Assert.True(a.abs().max().item<float>() > 0.8 * bound); // 384 uniform draws reach close to the bound
    }

    [Fact]
    public void All_linear_targets_every_projection_but_the_output_head_and_freezes_the_base()
    {
        using var model = Build(TinyLlama());
        var adapter = LoraModel.Apply(model, new LoraConfig { R = 2, TargetModulesPattern = "all-linear" });
        string[] projections = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"];
        var expected = new[] { 0, 1 }.SelectMany(i => projections.Select(p => $"model.layers.{i}.{p}")).ToArray();
        Assert.Equal(expected, adapter.Layers.Select(l => l.Name));
        // PEFT saves all-linear as the set of matched module names.
        Assert.Equal(expected.Order(StringComparer.Ordinal), adapter.Config.TargetModules!.Order(StringComparer.Ordinal));
        Assert.Null(adapter.Config.TargetModulesPattern);
        var trainable = model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => p.name).ToList();
        Assert.Equal(expected.SelectMany(n => new[] { n + ".lora_A.weight", n + ".lora_B.weight" }), trainable);
        // r·(in + out) per layer: q 2·64, k 2·48, v 2·48, o 2·64, gate 2·80, up 2·80, down 2·80 = 928 per layer.
        Assert.Equal(2 * 928, adapter.TrainableParameterCount());
        Assert.Equal(model.ParameterCount(), adapter.TotalParameterCount());
    }

    [Fact]
    public void The_optimizer_groups_hold_only_the_adapter()
    {
        using var model = Build(TinyLlama());
        LoraModel.Apply(model, new LoraConfig { R = 2, TargetModules = ["q_proj"] });
        var (decay, noDecay) = OptimizerGroups.Split(model);
        Assert.Equal(
            ["model.layers.0.self_attn.q_proj.lora_A.weight", "model.layers.0.self_attn.q_proj.lora_B.weight",
             "model.layers.1.self_attn.q_proj.lora_A.weight", "model.layers.1.self_attn.q_proj.lora_B.weight"],
            decay.Select(p => p.Name));
        Assert.Empty(noDecay);
    }

    // PEFT 0.17: LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules=["q_proj", "v_proj"],
    // task_type="CAUSAL_LM") on a 2-layer LlamaForCausalLM; get_peft_model(...).save_pretrained(dir).
    private const string LlamaAdapterConfig = """
        {
          "alpha_pattern": {},
          "auto_mapping": null,
          "base_model_name_or_path": "tiny-llama-base",
          "bias": "none",
          "corda_config": null,
          "eva_config": null,
          "exclude_modules": null,
          "fan_in_fan_out": false,
          "inference_mode": true,
          "init_lora_weights": true,
          "layer_replication": null,
          "layers_pattern": null,
          "layers_to_transform": null,
          "loftq_config": {},
          "lora_alpha": 32,
          "lora_bias": false,
          "lora_dropout": 0.05,
          "megatron_config": null,
          "megatron_core": "megatron.core",
          "modules_to_save": null,
          "peft_type": "LORA",
          "qalora_group_size": 16,
          "r": 16,
          "rank_pattern": {},
          "revision": null,
          "target_modules": [
            "q_proj",
            "v_proj"
          ],
          "target_parameters": null,
          "task_type": "CAUSAL_LM",
          "trainable_token_indices": null,
          "use_dora": false,
          "use_qalora": false,
          "use_rslora": false
        }
        """;

    [Fact]
    public void A_llama_adapter_is_saved_with_peft_keys_and_config()
    {
        using var dir = new ScratchFolder();
        using var model = Build(TinyLlama());
        var adapter = LoraModel.Apply(model, new LoraConfig
        {
            R = 16, LoraAlpha = 32, LoraDropout = 0.05, TargetModules = ["q_proj", "v_proj"], TaskType = "CAUSAL_LM",
            BaseModelNameOrPath = "tiny-llama-base",
        });
        adapter.Save(dir.Path);

        Assert.Equal(LlamaAdapterConfig, File.ReadAllText(Path.Combine(dir.Path, "adapter_config.json")));
        var header = SafeTensorsReader.ReadHeader(Path.Combine(dir.Path, "adapter_model.safetensors"));
        var expected = new Dictionary<string, long[]>
        {
            ["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"] = [16, 32],
            ["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"] = [32, 16],
            ["base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight"] = [16, 32],
            ["base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight"] = [16, 16],
            ["base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight"] = [16, 32],
            ["base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight"] = [32, 16],
            ["base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight"] = [16, 32],
            ["base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"] = [16, 16],
        };
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), header.Tensors.Select(t => t.Name).Order(StringComparer.Ordinal));
        foreach (var (key, shape) in expected)
        {
            Assert.Equal(shape, header.Find(key)!.Shape);
            Assert.Equal("F32", header.Find(key)!.Dtype);
        }
        Assert.Equal("pt", header.Metadata!["format"]);
        // Only the adapter is written: no base weights, no config.json.
        Assert.Equal(["adapter_config.json", "adapter_model.safetensors"], Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_gpt2_all_linear_adapter_is_saved_with_peft_keys_and_fan_in_fan_out()
    {
        using var dir = new ScratchFolder();
        using var model = Build(TinyConfigs.Gpt2());
        LoraModel.Apply(model, new LoraConfig
        {
            R = 8, LoraAlpha = 16, TargetModulesPattern = "all-linear", TaskType = "CAUSAL_LM", BaseModelNameOrPath = "gpt2-base",
            UseRslora = true,
        }).Save(dir.Path);

        string json = File.ReadAllText(Path.Combine(dir.Path, "adapter_config.json"));
        Assert.Contains("\"fan_in_fan_out\": true,", json);
        Assert.Contains("\"lora_dropout\": 0.0,", json);
        Assert.Contains("\"use_rslora\": true\n}", json);
        Assert.Contains("""
              "target_modules": [
                "transformer.h.0.attn.c_attn",
                "transformer.h.0.attn.c_proj",
                "transformer.h.0.mlp.c_fc",
                "transformer.h.0.mlp.c_proj",
                "transformer.h.1.attn.c_attn",
                "transformer.h.1.attn.c_proj",
                "transformer.h.1.mlp.c_fc",
                "transformer.h.1.mlp.c_proj"
              ],
            """.Replace("\r\n", "\n"), json);
        var header = SafeTensorsReader.ReadHeader(Path.Combine(dir.Path, "adapter_model.safetensors"));
        // Conv1D weights are (in, out); the LoRA matrices are A [r, in] and B [out, r] all the same.
        var expected = new Dictionary<string, long[]>();
        foreach (int i in new[] { 0, 1 })
        {
            expected[$"base_model.model.transformer.h.{i}.attn.c_attn.lora_A.weight"] = [8, 32];
            expected[$"base_model.model.transformer.h.{i}.attn.c_attn.lora_B.weight"] = [96, 8];
            expected[$"base_model.model.transformer.h.{i}.attn.c_proj.lora_A.weight"] = [8, 32];
            expected[$"base_model.model.transformer.h.{i}.attn.c_proj.lora_B.weight"] = [32, 8];
            expected[$"base_model.model.transformer.h.{i}.mlp.c_fc.lora_A.weight"] = [8, 32];
            expected[$"base_model.model.transformer.h.{i}.mlp.c_fc.lora_B.weight"] = [128, 8];
            expected[$"base_model.model.transformer.h.{i}.mlp.c_proj.lora_A.weight"] = [8, 128];
            expected[$"base_model.model.transformer.h.{i}.mlp.c_proj.lora_B.weight"] = [32, 8];
        }
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), header.Tensors.Select(t => t.Name).Order(StringComparer.Ordinal));
        foreach (var (key, shape) in expected) Assert.Equal(shape, header.Find(key)!.Shape);
    }

    [Fact]
    public void Modules_to_save_train_in_full_and_are_saved_under_their_own_names()
    {
        using var dir = new ScratchFolder();
        using var model = Build(TinyLlama(tied: false));
        var adapter = LoraModel.Apply(model, new LoraConfig { R = 2, TargetModules = ["q_proj"], ModulesToSave = ["lm_head"] });
        Assert.Equal(["lm_head"], adapter.ModulesToSave);
        Assert.True(Param(model, "lm_head.weight").requires_grad);
        Assert.False(Param(model, "model.embed_tokens.weight").requires_grad);
        adapter.Save(dir.Path);
        var header = SafeTensorsReader.ReadHeader(Path.Combine(dir.Path, "adapter_model.safetensors"));
        Assert.NotNull(header.Find("base_model.model.lm_head.weight"));
        Assert.Equal(5, header.Tensors.Count);

        // A tied head is the embedding itself: PEFT would train an untied copy, which lm-tune does not do.
        using var tied = Build(TinyLlama(tied: true));
        var error = Assert.Throws<LmException>(() => LoraModel.Apply(tied, new LoraConfig { TargetModules = ["q_proj"], ModulesToSave = ["embed_tokens"] }));
        Assert.Equal(ErrorCodes.LoraFeatureUnsupported, error.Code);
    }

    [Fact]
    public void A_saved_adapter_loads_back_into_a_fresh_base_and_gives_the_same_logits()
    {
        using var dir = new ScratchFolder();
        using var ids = Ids(2);
        using var model = Build(TinyLlama());
        var adapter = LoraModel.Apply(model, new LoraConfig { R = 4, LoraAlpha = 8, TargetModulesPattern = "all-linear", TaskType = "CAUSAL_LM" });
        Randomize(adapter, 9);
        adapter.Save(dir.Path);
        using var expected = Logits(model, ids);

        using var fresh = Build(TinyLlama());
        var loaded = LoraModel.Load(fresh, dir.Path, isTrainable: false);
        Assert.Equal(0, loaded.TrainableParameterCount());
        using var actual = Logits(fresh, ids);
        Assert.True(TensorAssert.Same(expected, actual));
        Assert.Same(loaded, LoraModel.Of(fresh));
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("gpt2")]
    public void The_merged_model_gives_the_logits_of_base_plus_adapter(string kind)
    {
        using var dir = new ScratchFolder();
        ModelConfig config = kind == "llama" ? TinyLlama() : TinyConfigs.Gpt2();
        using var ids = Ids(3);
        using var model = Build(config);
        var adapter = LoraModel.Apply(model, new LoraConfig { R = 4, LoraAlpha = 8, TargetModulesPattern = "all-linear" });
        Randomize(adapter, 11);
        adapter.Save(dir.Path);
        using var adapted = Logits(model, ids);

        using var merged = Build(config);
        using var baseLogits = Logits(merged, ids);
        var mergedConfig = LoraModel.MergeInto(merged, dir.Path);
        Assert.Equal(kind == "gpt2", mergedConfig.FanInFanOut);
        Assert.Null(LoraModel.Of(merged));
        Assert.DoesNotContain(merged.named_parameters(), p => p.name.Contains("lora_"));
        using var mergedLogits = Logits(merged, ids);
        Assert.True(MaxDiff(adapted, baseLogits) > 1e-2, "the adapter must change the output for the test to mean anything");
        Assert.True(MaxDiff(adapted, mergedLogits) < 1e-4, $"merged vs adapted: {MaxDiff(adapted, mergedLogits)}");
    }

    [Fact]
    public void Training_changes_only_the_adapter_and_the_base_bytes_stay_identical()
    {
        using var dir = new ScratchFolder();
        var data = MemoryBlocks.Patterned(12, 16, TrainerFixtures.Vocab, seed: 4);
        using var model = TrainerFixtures.TinyGpt2();
        var baseBefore = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.data<float>().ToArray());
        var adapter = LoraModel.Apply(model, new LoraConfig { R = 4, LoraAlpha = 8, TargetModulesPattern = "all-linear" });
        var loraBefore = adapter.AdapterStateDict().ToDictionary(p => p.Key, p => p.Value.data<float>().ToArray());
        var args = TrainerFixtures.Args(dir.Path, maxSteps: 3);
        args.WeightDecay = 0.1;
        args.SaveStrategy = IntervalStrategy.Steps;
        args.SaveSteps = 3;
        using (var trainer = new Trainer(model, args, data, null, new TrainerOptions { Adapter = adapter }))
            trainer.Train();

        foreach (var (name, values) in baseBefore)
            Assert.Equal(values, Param(model, name).data<float>().ToArray());
        foreach (var (key, values) in loraBefore)
            Assert.NotEqual(values, adapter.AdapterStateDict()[key].data<float>().ToArray());
        // The checkpoint holds the adapter and AdamW moments for the adapter only.
        string checkpoint = Path.Combine(dir.Path, "checkpoint-3");
        Assert.True(File.Exists(Path.Combine(checkpoint, "adapter_model.safetensors")));
        Assert.False(File.Exists(Path.Combine(checkpoint, "model.safetensors")));
        var moments = SafeTensorsReader.ReadHeader(Path.Combine(checkpoint, "optimizer.safetensors")).Tensors.Select(t => t.Name).ToList();
        Assert.Equal(16 * 2, moments.Count); // 16 LoRA matrices, exp_avg and exp_avg_sq each
        Assert.All(moments, k => Assert.Contains(".lora_", k));
    }

    [Fact]
    public void Resuming_a_lora_run_continues_bit_for_bit()
    {
        using var straightDir = new ScratchFolder();
        using var resumedDir = new ScratchFolder();
        var data = MemoryBlocks.Patterned(20, 16, TrainerFixtures.Vocab, seed: 11);
        var config = new LoraConfig { R = 4, LoraAlpha = 8, LoraDropout = 0.1, TargetModulesPattern = "all-linear" };
        TrainingArguments Args(string dir)
        {
            var args = TrainerFixtures.Args(dir, maxSteps: 8);
            args.SaveStrategy = IntervalStrategy.Steps;
            args.SaveSteps = 4;
            args.WarmupSteps = 2;
            args.WeightDecay = 0.01;
            return args;
        }
        float[] AdapterWeights(LoraModel adapter) =>
            adapter.AdapterStateDict().OrderBy(p => p.Key, StringComparer.Ordinal).SelectMany(p => p.Value.data<float>().ToArray()).ToArray();

        using var straightModel = TrainerFixtures.TinyGpt2(dropout: 0.1);
        manual_seed(1);
        var straightAdapter = LoraModel.Apply(straightModel, config);
        using (var straight = new Trainer(straightModel, Args(straightDir.Path), data, null, new TrainerOptions { Adapter = straightAdapter }))
            straight.Train();

        using var interruptedModel = TrainerFixtures.TinyGpt2(dropout: 0.1);
        manual_seed(1);
        var interruptedAdapter = LoraModel.Apply(interruptedModel, config);
        using var cancel = new CancellationTokenSource();
        using (var interrupted = new Trainer(interruptedModel, Args(resumedDir.Path), data, null, new TrainerOptions { Adapter = interruptedAdapter }))
        {
            interrupted.StepEnd += (_, e) => { if (e.GlobalStep == 4) cancel.Cancel(); };
            Assert.Equal(ErrorCodes.TrainingCancelled, Assert.Throws<LmException>(() => interrupted.Train(cancel.Token)).Code);
        }

        // Another seed for A proves the adapter comes from the checkpoint.
        using var resumedModel = TrainerFixtures.TinyGpt2(dropout: 0.1);
        manual_seed(2);
        var resumedAdapter = LoraModel.Apply(resumedModel, config);
        var resumeArgs = Args(resumedDir.Path);
        resumeArgs.ResumeFromCheckpoint = "last";
        using (var resumed = new Trainer(resumedModel, resumeArgs, data, null, new TrainerOptions { Adapter = resumedAdapter }))
            resumed.Train();

        Assert.Equal(AdapterWeights(straightAdapter), AdapterWeights(resumedAdapter));
        Assert.Equal(File.ReadAllBytes(Path.Combine(straightDir.Path, "checkpoint-8", "adapter_model.safetensors")),
            File.ReadAllBytes(Path.Combine(resumedDir.Path, "checkpoint-8", "adapter_model.safetensors")));
        Assert.Equal(File.ReadAllText(Path.Combine(straightDir.Path, "checkpoint-8", "trainer_state.json")),
            File.ReadAllText(Path.Combine(resumedDir.Path, "checkpoint-8", "trainer_state.json")));
    }

    [Fact]
    public void A_bf16_base_keeps_float32_adapters_and_trains_them()
    {
        using var dir = new ScratchFolder();
        var data = MemoryBlocks.Patterned(8, 16, TrainerFixtures.Vocab, seed: 4);
        using var model = TrainerFixtures.TinyGpt2();
        model.to(ScalarType.BFloat16);
        var adapter = LoraModel.Apply(model, new LoraConfig { R = 4, TargetModules = ["c_attn"] });
        Assert.All(adapter.Layers, l => Assert.Equal(ScalarType.Float32, l.A.dtype));
        Assert.Equal(ScalarType.BFloat16, Param(model, "transformer.h.0.attn.c_attn.weight").dtype);
        using (var trainer = new Trainer(model, TrainerFixtures.Args(dir.Path, maxSteps: 2), data, null, new TrainerOptions { Adapter = adapter }))
            trainer.Train();
        Assert.All(adapter.Layers, l => Assert.Equal(ScalarType.Float32, l.B.dtype));
        Assert.All(adapter.Layers, l => Assert.True(l.B.abs().sum().item<float>() > 0));
    }

    [Fact]
    public void Bad_targets_and_adapters_are_refused_with_their_codes()
    {
        using var dir = new ScratchFolder();
        using var model = Build(TinyLlama());
        var none = Assert.Throws<LmException>(() => LoraModel.Apply(model, new LoraConfig { TargetModules = ["c_attn"] }));
        Assert.Equal(ErrorCodes.LoraTargetNotFound, none.Code);
        Assert.Contains("q_proj", none.Message); // names the linear layers there are
        var notLinear = Assert.Throws<LmException>(() => LoraModel.Apply(model, new LoraConfig { TargetModules = ["mlp"] }));
        Assert.Equal(ErrorCodes.LoraTargetNotFound, notLinear.Code);
        Assert.Null(LoraModel.Of(model));

        Assert.Equal(ErrorCodes.AdapterFolderUnreadable,
            Assert.Throws<LmException>(() => LoraModel.Load(model, Path.Combine(dir.Path, "missing"), false)).Code);
        File.WriteAllText(Path.Combine(dir.Path, "adapter_config.json"), """{"peft_type": "PREFIX_TUNING"}""");
        Assert.Equal(ErrorCodes.LoraConfigInvalid, Assert.Throws<LmException>(() => LoraModel.Load(model, dir.Path, false)).Code);
        File.WriteAllText(Path.Combine(dir.Path, "adapter_config.json"), """{"peft_type": "LORA", "r": 2, "target_modules": ["q_proj"], "use_dora": true}""");
        Assert.Equal(ErrorCodes.LoraFeatureUnsupported, Assert.Throws<LmException>(() => LoraModel.Load(model, dir.Path, false)).Code);

        // Weights of another rank than the config says.
        using var other = Build(TinyLlama());
        LoraModel.Apply(other, new LoraConfig { R = 2, TargetModules = ["q_proj"] }).Save(dir.Path);
        File.WriteAllText(Path.Combine(dir.Path, "adapter_config.json"), """{"peft_type": "LORA", "r": 3, "target_modules": ["q_proj"]}""");
        using var fresh = Build(TinyLlama());
        var shape = Assert.Throws<LmException>(() => LoraModel.Load(fresh, dir.Path, false));
        Assert.Equal(ErrorCodes.AdapterWeightsMismatch, shape.Code);
        File.WriteAllText(Path.Combine(dir.Path, "adapter_config.json"), """{"peft_type": "LORA", "r": 2, "target_modules": ["q_proj", "v_proj"]}""");
        using var fresh2 = Build(TinyLlama());
        var missing = Assert.Throws<LmException>(() => LoraModel.Load(fresh2, dir.Path, false));
        Assert.Equal(ErrorCodes.AdapterWeightsMismatch, missing.Code);
        Assert.Contains("v_proj.lora_A.weight", missing.Message);
    }

    [Fact]
    public void The_linear_names_the_generator_checks_targets_against_are_those_the_models_build()
    {
        // Untied Llama so that lm_head is a module too; the other heads compute with the tied embedding.
        foreach (ModelConfig config in new ModelConfig[] { TinyLlama(tied: false), TinyConfigs.Gpt2(), TinyConfigs.Bert(), TinyConfigs.Roberta() })
        {
            using var model = Build(config);
            var linear = model.named_modules()
                .Where(m => m.module is TorchSharp.Modules.Linear || m.module.GetType().Name == "Conv1D")
                .Select(m => m.name[(m.name.LastIndexOf('.') + 1)..]).Distinct().Order(StringComparer.Ordinal);
            Assert.Equal(linear, Lm.Schema.LinearModules.ForModelType(config.ModelType).Order(StringComparer.Ordinal));
        }
    }

    [Fact]
    public void Trl_defaults_give_r16_alpha32_dropout005_on_peft_default_targets()
    {
        var args = new ModelArguments { ModelNameOrPath = "some/base" };
        var config = LoraConfig.FromArguments(args, "CAUSAL_LM");
        Assert.Equal((16, 32.0, 0.05), (config.R, config.LoraAlpha, config.LoraDropout));
        Assert.Equal(2.0, config.Scaling);
        Assert.Equal(["q_proj", "v_proj"], LoraConfig.DefaultTargetModules("llama"));
        Assert.Equal(["c_attn"], LoraConfig.DefaultTargetModules("gpt2"));
        using var model = Build(TinyConfigs.Gpt2());
        var adapter = LoraModel.Apply(model, config);
        Assert.Equal(["transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn"], adapter.Layers.Select(l => l.Name));
        Assert.Equal(["c_attn"], adapter.Config.TargetModules);
        args.LoraTargetModules = "all-linear";
        Assert.Equal("all-linear", LoraConfig.FromArguments(args, null).TargetModulesPattern);
        args.LoraR = 0;
        Assert.Equal(ErrorCodes.LoraConfigInvalid, Assert.Throws<LmException>(() => LoraConfig.FromArguments(args, null)).Code);
    }
}
