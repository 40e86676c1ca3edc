using Lm.Runtime.Models;
using Lm.Runtime.Models.Lora;
using Lm.Runtime.Tests.Data;
using Lm.Runtime.Tests.Training;
using Lm.Runtime.Training;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Models.Lora;

/// <summary>
/// The chunked training loss (ChunkedCrossEntropy) projects with the head's weight; a LoRA adapter that targets
/// <c>lm_head</c> explicitly must still take part, as it does in the plain loss, where the module (and its LoRA hook)
/// computes the logits: the chunked run's losses and trained adapter are the plain run's.
/// </summary>
[Collection(TorchRandomCollection.Name)]
public class LoraHeadChunkedLossTests
{
    private static (float[] Losses, Dictionary<string, float[]> Before, Dictionary<string, float[]> After) Train(long? lossChunkTokens)
    {
        using var dir = new ScratchFolder();
        var data = MemoryBlocks.Patterned(8, 16, TrainerFixtures.Vocab, seed: 6);
        using var model = LanguageModel.Create(new LlamaConfig
        {
            VocabSize = TrainerFixtures.Vocab, HiddenWidth = 32, IntermediateSize = 48, NumHiddenLayers = 2, NumAttentionHeads = 4,
            NumKeyValueHeads = 2, MaxPositionEmbeddings = 32, RmsNormEps = 1e-5,
        }, 7);
        manual_seed(1);
        var adapter = LoraModel.Apply(model, new LoraConfig { R = 4, LoraAlpha = 8, TargetModules = ["q_proj", "lm_head"] });
        using (no_grad())
            foreach (var layer in adapter.Layers) layer.B.normal_(0, 0.05); // the head's update changes the logits from step 1
        var before = adapter.AdapterStateDict().ToDictionary(p => p.Key, p => p.Value.data<float>().ToArray());
        var losses = new List<float>();
        var args = TrainerFixtures.Args(dir.Path, maxSteps: 3);
        using (var trainer = new Trainer(model, args, data, null, new TrainerOptions { Adapter = adapter, LossChunkTokens = lossChunkTokens }))
        {
            trainer.StepEnd += (_, e) => losses.Add(e.Loss!.Value);
            trainer.Train();
        }
        return (losses.ToArray(), before, adapter.AdapterStateDict().ToDictionary(p => p.Key, p => p.Value.data<float>().ToArray()));
    }

    [Fact]
    public void Chunked_loss_with_an_lm_head_adapter_equals_the_plain_loss_and_trains_the_head_adapter()
    {
        var plain = Train(lossChunkTokens: 0);
        var chunked = Train(lossChunkTokens: 5);

        Assert.Equal(3, plain.Losses.Length);
        Assert.Equal(plain.Losses, chunked.Losses);
        Assert.Equal(plain.After.Keys.Order(), chunked.After.Keys.Order());
        foreach (var (key, values) in plain.After) Assert.Equal(values, chunked.After[key]);
        // The head's adapter is trained (with the bare weight it would get no gradient and keep its start values).
        const string headB = "base_model.model.lm_head.lora_B.weight";
        Assert.NotEqual(chunked.Before[headB], chunked.After[headB]);
        Assert.NotEqual(chunked.Before["base_model.model.lm_head.lora_A.weight"], chunked.After["base_model.model.lm_head.lora_A.weight"]);
    }

    [Fact]
    public void Without_a_head_adapter_the_chunked_path_is_still_taken()
    {
        using var model = LanguageModel.Create(new LlamaConfig
        {
            VocabSize = TrainerFixtures.Vocab, HiddenWidth = 32, IntermediateSize = 48, NumHiddenLayers = 1, NumAttentionHeads = 4,
            NumKeyValueHeads = 2, MaxPositionEmbeddings = 32, RmsNormEps = 1e-5,
        }, 7);
        LoraModel.Apply(model, new LoraConfig { R = 2, TargetModulesPattern = "all-linear" });
        using var ids = tensor(new long[] { 1, 2, 3, 4 }, [1, 4]);
        using var scope = NewDisposeScope();
        Assert.NotNull(model.ForwardToHead(ids));

        using var headModel = LanguageModel.Create(new LlamaConfig
        {
            VocabSize = TrainerFixtures.Vocab, HiddenWidth = 32, IntermediateSize = 48, NumHiddenLayers = 1, NumAttentionHeads = 4,
            NumKeyValueHeads = 2, MaxPositionEmbeddings = 32, RmsNormEps = 1e-5,
        }, 7);
        LoraModel.Apply(headModel, new LoraConfig { R = 2, TargetModules = ["lm_head"] });
        Assert.Null(headModel.ForwardToHead(ids));
    }
}
