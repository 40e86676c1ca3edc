using Lm.Runtime.Errors;
using Lm.Runtime.Models;
using Lm.Runtime.Tests.Data;
using Lm.Runtime.Tests.Training;
using Lm.Runtime.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Models;

// Seeds the global generator (dropout masks must repeat) and counts native allocations: runs alone.
[Collection(TorchRandomCollection.Name)]
public class GradientCheckpointTests
{
    // GPT-2's default dropout is 0.1 (embeddings, residuals, attention).
    private static Gpt2Config Gpt2(int layers = 2) => new()
    {
        VocabSize = 1000, NPositions = 64, NEmbd = 32, NLayer = layers, NHead = 2,
    };

    // BERT's and RoBERTa's default dropout is 0.1 (hidden and attention).
    private static BertConfig Bert() => TinyConfigs.Bert();

    private static LlamaConfig Llama(bool tied) => new()
    {
        VocabSize = 97, HiddenWidth = 32, IntermediateSize = 48, NumHiddenLayers = 2, NumAttentionHeads = 4,
        NumKeyValueHeads = 2, MaxPositionEmbeddings = 64, RmsNormEps = 1e-5, TieWordEmbeddings = tied,
        InitializerRange = 0.2, AttentionDropout = 0.1,
    };

    [Fact]
    public void Gpt2_with_dropout_has_the_same_loss_and_gradients_with_checkpointing()
    {
        AssertSameStep(Gpt2(), labelsMasked: false, expectedLayers: 2);
    }

    [Fact]
    public void Bert_with_dropout_has_the_same_loss_and_gradients_with_checkpointing()
    {
        AssertSameStep(Bert(), labelsMasked: true, expectedLayers: 2);
    }

    [Fact]
    public void Roberta_has_the_same_loss_and_gradients_with_checkpointing()
    {
        AssertSameStep(TinyConfigs.Roberta(), labelsMasked: true, expectedLayers: 2);
    }

    [Fact]
    public void Llama_with_attention_dropout_has_the_same_loss_and_gradients_with_checkpointing()
    {
        AssertSameStep(Llama(tied: false), labelsMasked: false, expectedLayers: 2);
        AssertSameStep(Llama(tied: true), labelsMasked: false, expectedLayers: 2);
    }

    [Fact]
    public void Checkpointing_is_off_in_eval_mode_and_leaves_the_random_stream_where_the_plain_run_leaves_it()
    {
        using var scope = NewDisposeScope();
        var model = Build(Gpt2());
        var (ids, labels) = Batch(model.Config, masked: false, seed: 5);
        model.GradientCheckpointing = true;
        model.eval();
        long before = GradientCheckpoint.RecomputeCount;
        model.Forward(ids, labels: labels).Loss!.backward();
        Assert.Equal(before, GradientCheckpoint.RecomputeCount);

        // Training: the draw after forward + backward is the same draw as without checkpointing.
        model.train();
        Assert.Equal(Step(model, ids, labels, checkpoint: false, seed: 9).NextDraw,
            Step(model, ids, labels, checkpoint: true, seed: 9).NextDraw);
    }

    [Fact]
    public void The_gradient_checkpointing_argument_gives_the_plain_training_trajectory()
    {
        // TrainingArguments.gradient_checkpointing as HF's Trainer applies it (gradient_checkpointing_enable()):
        // 10 steps with dropout 0.1 log the same losses and end with the same weights as without it.
        using var dir = new ScratchFolder();
        var data = MemoryBlocks.Patterned(24, 16, TrainerFixtures.Vocab, seed: 3);
        using var plainModel = TrainerFixtures.TinyGpt2(dropout: 0.1);
        using var checkpointedModel = TrainerFixtures.TinyGpt2(dropout: 0.1);
        var checkpointedArgs = TrainerFixtures.Args(dir.Path);
        checkpointedArgs.GradientCheckpointing = true;
        using var plain = new Trainer(plainModel, TrainerFixtures.Args(dir.Path), data);
        using var checkpointed = new Trainer(checkpointedModel, checkpointedArgs, data);
        plain.Train();
        long before = GradientCheckpoint.RecomputeCount;
        checkpointed.Train();
        Assert.Equal(10 * 2, GradientCheckpoint.RecomputeCount - before);
        Assert.True(checkpointedModel.GradientCheckpointing);
        double[] Losses(Trainer t) => t.State.LogHistory.Where(e => e.Values.ContainsKey("loss")).Select(e => e["loss"]).ToArray();
        Assert.Equal(10, Losses(plain).Length);
        Assert.Equal(Losses(plain), Losses(checkpointed));
        float[] a = TrainerFixtures.Weights(plainModel), b = TrainerFixtures.Weights(checkpointedModel);
        for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) <= 1e-6, $"weight {i}: {a[i]} vs {b[i]}");
    }

    [Fact]
    public void Checkpointing_with_dropout_on_a_gpu_is_refused_naming_the_key()
    {
        // Only the CPU generator's state can be saved and restored: on CUDA the masks would differ (LM0440).
        var cuda = new Device(DeviceType.CUDA, 0);
        using var gpt2 = Build(Gpt2() with { ResidPdrop = 0, EmbdPdrop = 0 });
        var error = Assert.Throws<LmException>(() => GradientCheckpoint.EnsureReproducible(gpt2, cuda));
        Assert.Equal("LM0440", error.Code);
        Assert.Contains("attn_pdrop = 0.1", error.Message);
        using var llama = Build(Llama(tied: false) with { AttentionDropout = 0 });
        GradientCheckpoint.EnsureReproducible(llama, cuda);
        GradientCheckpoint.EnsureReproducible(gpt2, CPU);
    }

    [Fact]
    public void Frozen_embeddings_still_give_the_layers_their_gradients()
    {
        // LoRA freezes the base: the layers' input then needs no gradient, yet the layers' own trainable
        // parameters must still get theirs (HF needs enable_input_require_grads for this; here the parameters are
        // inputs of the checkpoint).
        using var scope = NewDisposeScope();
        var model = Build(Llama(tied: false));
        foreach (var (name, parameter) in model.named_parameters())
            if (!name.Contains("mlp.down_proj")) parameter.requires_grad = false;
        var (ids, labels) = Batch(model.Config, masked: false, seed: 6);
        var plain = Step(model, ids, labels, checkpoint: false, seed: 4);
        var checkpointed = Step(model, ids, labels, checkpoint: true, seed: 4);
        Assert.Equal(2, checkpointed.Gradients.Count);
        AssertClose(plain, checkpointed);
    }

    [Fact]
    public void Checkpointing_keeps_one_hidden_state_per_layer_instead_of_every_activation()
    {
        // Native bytes in use (glibc's mallinfo2, which libtorch's CPU allocator draws from) between the start of the
        // forward pass and its end, with the loss and its graph alive: what the backward pass will need. The
        // difference between a 10-layer and a 2-layer model is eight layers' worth, free of the embeddings and head.
        // Checkpointed, a layer keeps its input hidden state (batch × sequence × width floats) and a few kilobytes
        // of bookkeeping (the random state, the node); without, every activation of the block (q, k, v, attention
        // weights, the 4×-wide MLP ...). Measured: 1.03 and 42 hidden states per layer.
        const int batch = 4, length = 128, width = 128;
        long hiddenBytes = (long)batch * length * width * sizeof(float);
        long PerLayer(bool checkpoint)
        {
            long small = RetainedBytes(layers: 2, checkpoint), large = RetainedBytes(layers: 10, checkpoint);
            return (large - small) / 8;
        }
        // The smaller of two measurements: another thread's allocation in between only adds.
        long RetainedBytes(int layers, bool checkpoint) => Math.Min(RetainedOnce(layers, checkpoint), RetainedOnce(layers, checkpoint));
        long RetainedOnce(int layers, bool checkpoint)
        {
            using var scope = NewDisposeScope();
            var config = new Gpt2Config { VocabSize = 100, NPositions = length, NEmbd = width, NLayer = layers, NHead = 4 };
            var model = Build(config);
            model.train();
            model.GradientCheckpointing = checkpoint;
            var (ids, labels) = Batch(config, masked: false, seed: 1, batchSize: batch, length: length);
            GC.Collect();
            GC.WaitForPendingFinalizers();
            ReturnedGradients.Release();
            long before = NativeMemory.BytesInUse();
            var output = model.Forward(ids, labels: labels);
            long after = NativeMemory.BytesInUse();
            model.Dispose();
            return after - before;
        }

        // The first passes allocate libtorch's one-time buffers; measured after them.
        RetainedBytes(layers: 2, checkpoint: false);
        RetainedBytes(layers: 2, checkpoint: true);
        long plain = PerLayer(checkpoint: false), checkpointed = PerLayer(checkpoint: true);
        Assert.True(checkpointed >= hiddenBytes && checkpointed <= hiddenBytes + hiddenBytes / 4,
            $"a checkpointed layer keeps {checkpointed} bytes; a hidden state is {hiddenBytes} (plain layer: {plain})");
        Assert.True(plain > 20 * hiddenBytes, $"plain layer keeps {plain} bytes, expected more than {20 * hiddenBytes}");
    }

    private static void AssertSameStep(ModelConfig config, bool labelsMasked, int expectedLayers)
    {
        using var scope = NewDisposeScope();
        var model = Build(config);
        var (ids, labels) = Batch(config, labelsMasked, seed: 11);
        var plain = Step(model, ids, labels, checkpoint: false, seed: 21);
        long before = GradientCheckpoint.RecomputeCount;
        var checkpointed = Step(model, ids, labels, checkpoint: true, seed: 21);
        Assert.Equal(expectedLayers, GradientCheckpoint.RecomputeCount - before);
        // Dropout is on: a different mask in the recomputation would change the gradients by far more.
        var noDropout = Step(model, ids, labels, checkpoint: false, seed: 22);
        Assert.NotEqual(plain.Loss, noDropout.Loss);
        Assert.Equal(plain.Loss, checkpointed.Loss);
        Assert.Equal(model.parameters().Count(), checkpointed.Gradients.Count);
        AssertClose(plain, checkpointed);
    }

    private static void AssertClose(StepResult expected, StepResult actual)
    {
        Assert.Equal(expected.Gradients.Keys.Order(), actual.Gradients.Keys.Order());
        foreach (var (name, gradient) in expected.Gradients)
        {
            var other = actual.Gradients[name];
            double scale = Math.Max(gradient.abs().max().item<float>(), 1e-6f);
            double difference = gradient.sub(other).abs().max().item<float>();
            Assert.True(difference <= 1e-6 * scale, $"{name}: gradients differ by {difference} (largest {scale})");
        }
    }

    private sealed record StepResult(float Loss, Dictionary<string, Tensor> Gradients, float NextDraw);

    private static StepResult Step(LanguageModel model, Tensor ids, Tensor labels, bool checkpoint, long seed)
    {
        model.train();
        model.GradientCheckpointing = checkpoint;
        foreach (var parameter in model.parameters()) parameter.grad = null;
        torch.manual_seed(seed);
        var loss = model.Forward(ids, labels: labels).Loss!;
        loss.backward();
        var gradients = model.named_parameters()
            .Where(p => p.parameter.grad is not null)
            .ToDictionary(p => p.name, p => p.parameter.grad!.clone());
        float next = rand(1).item<float>();
        model.GradientCheckpointing = false;
        return new StepResult(loss.item<float>(), gradients, next);
    }

    private static LanguageModel Build(ModelConfig config)
    {
        torch.manual_seed(3);
        return LanguageModel.Create(config);
    }

    private static (Tensor Ids, Tensor Labels) Batch(ModelConfig config, bool masked, long seed, int batchSize = 2, int length = 16)
    {
        using var generator = new Generator((ulong)seed);
        var ids = randint(5, config.VocabSize, [batchSize, length], generator: generator);
        if (!masked) return (ids, ids.clone());
        // Masked LM: every third position predicts its token, the rest is ignored.
        var labels = full([batchSize, length], LanguageModel.IgnoreIndex, dtype: ScalarType.Int64);
        for (int j = 0; j < length; j += 3) labels[.., j] = ids[.., j];
        return (ids, labels);
    }
}
