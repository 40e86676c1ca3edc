using Lm.Runtime.Models;
using Lm.Runtime.Models.Lora;
using Lm.Runtime.Tests.Data;
using Lm.Runtime.Tests.Training;
using Lm.Runtime.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Models.Lora;

/// <summary>
/// <c>--bf16</c> with a LoRA adapter, as HF's autocast with PEFT: the base computes in bfloat16 while the adapters
/// and their AdamW state stay float32 (PEFT's <c>lora.Linear.forward</c> casts the input to the adapter's dtype), the
/// frozen base comes out of the run bit for bit as it went in, and the losses follow the float32 run's.
/// </summary>
[Collection(TorchRandomCollection.Name)]
public class LoraBf16Tests
{
    /// <summary>
    /// bf16 keeps 8 significant bits (relative rounding 2^-9 ≈ 0.2% per value), and the loss itself is reduced in
    /// float32: over these 2-layer models (loss ≈ 3.9) the measured per-step differences are at most 1.1e-4 (GPT-2
    /// and Llama, four steps); 0.005 leaves room for other CPUs' bf16 kernels and is still far below what a wrong
    /// adapter (unscaled, rounded to bf16, or not applied) changes.
    /// </summary>
    private const double Bf16LossTolerance = 0.005;

    private const int Steps = 4;

    private const double LearningRate = 1e-3;

    private sealed record Run(float[] Losses, Dictionary<string, float[]> Base, Dictionary<string, float[]> AdapterBefore, Dictionary<string, float[]> Adapter, ScalarType[] AdapterTypes);

    private static Run Train(bool bf16, Func<LanguageModel> build, LoraConfig config, out Dictionary<string, float[]> baseBefore)
    {
        using var dir = new ScratchFolder();
        var data = MemoryBlocks.Patterned(16, 16, TrainerFixtures.Vocab, seed: 5);
        using var model = build();
        baseBefore = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.data<float>().ToArray());
        manual_seed(1);
        var adapter = LoraModel.Apply(model, config);
        using (no_grad())
            foreach (var layer in adapter.Layers) layer.B.normal_(0, 0.02); // a non-zero start, so the update matters from step 1
        var adapterBefore = adapter.AdapterStateDict().ToDictionary(p => p.Key, p => p.Value.data<float>().ToArray());
        var args = TrainerFixtures.Args(dir.Path, maxSteps: Steps);
        args.Bf16 = bf16;
        args.LearningRate = LearningRate;
        args.WeightDecay = 0.01;
        var losses = new List<float>();
        using (var trainer = new Trainer(model, args, data, null, new TrainerOptions { Adapter = adapter }))
        {
            trainer.StepEnd += (_, e) => losses.Add(e.Loss!.Value);
            trainer.Train();
        }
        var baseAfter = model.named_parameters().Where(p => !p.name.Contains(".lora_", StringComparison.Ordinal))
            .ToDictionary(p => p.name, p => p.parameter.to(ScalarType.Float32).data<float>().ToArray());
        var adapterAfter = adapter.AdapterStateDict().ToDictionary(p => p.Key, p => p.Value.to(ScalarType.Float32).data<float>().ToArray());
        var types = adapter.Layers.SelectMany(l => new[] { l.A.dtype, l.B.dtype }).ToArray();
        return new Run(losses.ToArray(), baseAfter, adapterBefore, adapterAfter, types);
    }

    public static TheoryData<string> Models => new() { "gpt2", "llama" };

    private static Func<LanguageModel> Builder(string kind) => kind == "gpt2"
        ? () => TrainerFixtures.TinyGpt2()
        : () => LanguageModel.Create(new LlamaConfig
        {
            VocabSize = TrainerFixtures.Vocab, HiddenWidth = 32, IntermediateSize = 48, NumHiddenLayers = 2, NumAttentionHeads = 4,
            NumKeyValueHeads = 2, MaxPositionEmbeddings = 32, RmsNormEps = 1e-5,
        }, 7);

    [Fact]
    public void A_base_loaded_in_bf16_stays_bf16_after_a_bf16_lora_run()
    {
        using var dir = new ScratchFolder();
        using var model = Builder("llama")();
        model.to(ScalarType.BFloat16); // --torch-dtype bfloat16
        var baseBefore = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.to(ScalarType.Float32).data<float>().ToArray());
        manual_seed(1);
        var adapter = LoraModel.Apply(model, new LoraConfig { R = 4, LoraAlpha = 8, TargetModulesPattern = "all-linear" });
        var args = TrainerFixtures.Args(dir.Path, maxSteps: 2);
        args.Bf16 = true;
        using (var trainer = new Trainer(model, args, MemoryBlocks.Patterned(16, 16, TrainerFixtures.Vocab, seed: 5), null, new TrainerOptions { Adapter = adapter }))
            trainer.Train();

        // Nothing was kept aside, so nothing is widened at the end: the base is as it was loaded, bf16, bit for bit.
        foreach (var (name, parameter) in model.named_parameters().Where(p => !p.name.Contains(".lora_", StringComparison.Ordinal)))
        {
            Assert.Equal(ScalarType.BFloat16, parameter.dtype);
            Assert.Equal(baseBefore[name], parameter.to(ScalarType.Float32).data<float>().ToArray());
        }
        Assert.All(adapter.Layers, l => Assert.Equal(ScalarType.Float32, l.A.dtype));
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Bf16_lora_follows_the_fp32_run_changes_only_float32_adapters_and_keeps_the_base_bytes(string kind)
    {
        var config = new LoraConfig { R = 4, LoraAlpha = 8, TargetModulesPattern = "all-linear" };
        var fp32 = Train(bf16: false, Builder(kind), config, out var fp32BaseBefore);
        var bf16 = Train(bf16: true, Builder(kind), config, out var bf16BaseBefore);

        Assert.Equal(Steps, bf16.Losses.Length);
        Assert.All(bf16.Losses, l => Assert.True(float.IsFinite(l)));
        for (int step = 0; step < fp32.Losses.Length; step++)
            Assert.True(Math.Abs(fp32.Losses[step] - bf16.Losses[step]) < Bf16LossTolerance,
                $"step {step + 1}: fp32 {fp32.Losses[step]} vs bf16 {bf16.Losses[step]}");
        // Training moved the loss (the adapter learns in both runs).
        Assert.NotEqual(fp32.Losses[0], fp32.Losses[^1]);

        // The frozen base leaves the bf16 run bit for bit as it entered (HF's autocast never changes the fp32 weights).
        Assert.Equal(bf16BaseBefore.Keys.Order(), bf16.Base.Keys.Order());
        foreach (var (name, values) in bf16BaseBefore) Assert.Equal(values, bf16.Base[name]);
        foreach (var (name, values) in fp32BaseBefore) Assert.Equal(values, fp32.Base[name]);

        // The adapters stay float32, and the bf16 run moves them as the fp32 run does: the two updates point the same
        // way (cosine), and no weight is further from the fp32 run's than AdamW's per-step bound allows (each step
        // moves a weight by at most about the learning rate, so two runs part by at most 2·lr per step).
        Assert.All(bf16.AdapterTypes, t => Assert.Equal(ScalarType.Float32, t));
        Assert.Equal(fp32.AdapterBefore.Keys.Order(), bf16.AdapterBefore.Keys.Order());
        double dot = 0, fp32Norm = 0, bf16Norm = 0, maxDiff = 0;
        foreach (var (key, before) in fp32.AdapterBefore)
        {
            Assert.Equal(before, bf16.AdapterBefore[key]);
            for (int i = 0; i < before.Length; i++)
            {
                double fp32Update = fp32.Adapter[key][i] - before[i], bf16Update = bf16.Adapter[key][i] - before[i];
                dot += fp32Update * bf16Update;
                fp32Norm += fp32Update * fp32Update;
                bf16Norm += bf16Update * bf16Update;
                maxDiff = Math.Max(maxDiff, Math.Abs(fp32Update - bf16Update));
            }
        }
        double cosine = dot / Math.Sqrt(fp32Norm * bf16Norm);
        Assert.True(fp32Norm > 0 && bf16Norm > 0);
        // Measured: 0.9985 (Llama), 0.9987 (GPT-2).
        Assert.True(cosine > 0.98, $"cosine of the fp32 and bf16 adapter updates: {cosine}");
        Assert.True(maxDiff <= 2 * LearningRate * Steps, $"max |fp32 - bf16| update: {maxDiff}");
    }
}
