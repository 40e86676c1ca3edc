using Lm.Runtime.Models;
using Lm.Runtime.Tests.Data;
using Lm.Runtime.Tests.Models;
using Lm.Runtime.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Training;

[Collection(TorchRandomCollection.Name)]
public class ChunkedCrossEntropyTests
{
    private static LlamaConfig Llama(bool tied) => new()
    {
        VocabSize = 97, HiddenWidth = 32, IntermediateSize = 48, NumHiddenLayers = 2, NumAttentionHeads = 4,
        NumKeyValueHeads = 2, MaxPositionEmbeddings = 64, RmsNormEps = 1e-5, TieWordEmbeddings = tied, InitializerRange = 0.2,
    };

    public static TheoryData<string, long> Models => new()
    {
        { "gpt2", 1 }, { "gpt2", 7 }, { "gpt2", 1000 },
        { "llama", 5 }, { "llama-tied", 5 },
        { "bert", 3 }, { "roberta", 4 },
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void Loss_and_every_gradient_equal_the_plain_loss_divided_by_the_window_items(string model, long chunk)
    {
        // num_items_in_batch: the window holds more labels than this micro-batch (accumulation), 3 × its count.
        AssertSameAsPlain(model, chunk, labelSmoothing: 0, windowFactor: 3);
    }

    [Theory]
    [InlineData("gpt2", 6)]
    [InlineData("bert", 2)]
    [InlineData("llama", 9)]
    public void Label_smoothing_equals_the_label_smoother(string model, long chunk)
    {
        AssertSameAsPlain(model, chunk, labelSmoothing: 0.1, windowFactor: 1);
    }

    [Theory]
    [InlineData(ChunkedCrossEntropy.GroupBytes)]
    [InlineData(1L)]
    [InlineData(20_000L)]
    public void A_bf16_model_gets_the_plain_bf16_loss_and_gradients_up_to_bf16_rounding(long groupBytes)
    {
        // The logits are made in bf16 and cast to float32 as in the plain path. The head's weight gradient is one bf16
        // product over the batch's kept logit gradients (as the plain path's) or, when they outgrow groupBytes (here:
        // every chunk, or two chunks of 5 rows at a time), the float32 sum of one product per group; the other
        // gradients are the same in both, so they agree to bf16's precision.
        using var scope = NewDisposeScope();
        var model = Build("gpt2");
        model.to(ScalarType.BFloat16);
        var (ids, labels) = Batch(model, seed: 4);
        long items = TrainingLoss.CountItems(labels);
        var plain = Gradients(model, () => TrainingLoss.Summed(model.Objective, model.Forward(ids).Logits, labels).div(items));
        var chunked = Gradients(model, () => ChunkedCrossEntropy.Loss(model.ForwardToHead(ids)!, labels, true, items, 0, 5, groupBytes));
        Assert.True(Math.Abs(plain.Loss - chunked.Loss) <= 1e-5 * plain.Loss, $"loss {plain.Loss} vs {chunked.Loss}");
        foreach (var (name, gradient) in plain.Gradients)
        {
            Assert.Equal(ScalarType.BFloat16, chunked.Gradients[name].dtype);
            var a = gradient.to(ScalarType.Float32);
            var b = chunked.Gradients[name].to(ScalarType.Float32);
            double scale = a.abs().max().item<float>();
            Assert.True(a.sub(b).abs().max().item<float>() <= 2e-2 * scale, name);
        }
    }

    [Fact]
    public void A_scaled_loss_scales_the_gradients()
    {
        using var scope = NewDisposeScope();
        var model = Build("gpt2");
        var (ids, labels) = Batch(model, seed: 2);
        long items = TrainingLoss.CountItems(labels);
        var plain = Gradients(model, () => ChunkedCrossEntropy.Loss(model.ForwardToHead(ids)!, labels, true, items, 0, 5));
        var doubled = Gradients(model, () => ChunkedCrossEntropy.Loss(model.ForwardToHead(ids)!, labels, true, items, 0, 5).mul(2.0));
        foreach (var (name, gradient) in plain.Gradients)
            Assert.True(gradient.mul(2.0).allclose(doubled.Gradients[name], rtol: 1e-6, atol: 1e-9), name);
    }

    [Theory]
    // distilgpt2's 8 × 128 batch: 1,016 labelled rows in chunks of at most 333 (64 MiB of logits) or 166.
    [InlineData(1016, 333, 254)]
    [InlineData(1016, 166, 146)]
    [InlineData(1016, 1016, 1016)]
    [InlineData(1016, 5000, 1016)]
    [InlineData(7, 1, 1)]
    [InlineData(10, 3, 3)]
    [InlineData(11, 5, 4)]
    [InlineData(0, 5, 1)]
    public void Chunks_split_the_rows_evenly_and_never_exceed_the_limit(long rows, long limit, long expected)
    {
        long chunk = ChunkedCrossEntropy.BalancedChunkRows(rows, limit);
        Assert.Equal(expected, chunk);
        Assert.True(chunk <= Math.Max(limit, 1));
        // As few chunks as the limit allows: the chunk count of the limit itself.
        if (rows > 0) Assert.Equal((rows + limit - 1) / limit, (rows + chunk - 1) / chunk);
    }

    [Theory]
    [InlineData(1024, 50257, 333)] // distilgpt2, 8 × 128: 206 MB of logits
    [InlineData(4096, 49152, 341)] // SmolLM2, 8 × 512
    [InlineData(333, 50257, 0)] // 64 MiB or less: the plain loss
    [InlineData(334, 50257, 333)]
    [InlineData(100, 97, 0)]
    public void The_trainer_chunks_only_logits_over_64_MiB(long positions, long vocabulary, long expected) =>
        Assert.Equal(expected, ChunkedCrossEntropy.DefaultChunkTokens(positions, vocabulary));

    [Fact]
    public void Without_labels_the_loss_is_zero_and_every_gradient_too()
    {
        using var scope = NewDisposeScope();
        var model = Build("bert");
        var (ids, _) = Batch(model, seed: 2);
        var labels = full(ids.shape, LanguageModel.IgnoreIndex, dtype: ScalarType.Int64);
        var result = Gradients(model, () => ChunkedCrossEntropy.Loss(model.ForwardToHead(ids)!, labels, false, 0, 0, 4));
        Assert.Equal(0f, result.Loss);
        Assert.All(result.Gradients.Values, g => Assert.Equal(0f, g.abs().max().item<float>()));
    }

    [Fact]
    public void Trainer_trajectory_with_a_chunked_loss_matches_the_plain_one()
    {
        // 10 steps of the tiny GPT-2 with dropout, plain loss vs 5-token chunks: the same losses and weights (up to
        // the order of float32 sums).
        using var dir = new ScratchFolder();
        var data = MemoryBlocks.Patterned(24, 16, TrainerFixtures.Vocab, seed: 3);
        using var plainModel = TrainerFixtures.TinyGpt2(dropout: 0.1);
        using var chunkedModel = TrainerFixtures.TinyGpt2(dropout: 0.1);
        using var plain = new Trainer(plainModel, TrainerFixtures.Args(dir.Path), data, options: new TrainerOptions { LossChunkTokens = 0 });
        using var chunked = new Trainer(chunkedModel, TrainerFixtures.Args(dir.Path), data, options: new TrainerOptions { LossChunkTokens = 5 });
        plain.Train();
        chunked.Train();
        double[] Losses(Trainer t) => t.State.LogHistory.Where(e => e.Values.ContainsKey("loss")).Select(e => e["loss"]).ToArray();
        Assert.Equal(10, Losses(plain).Length);
        foreach (var (x, y) in Losses(plain).Zip(Losses(chunked))) Assert.True(Math.Abs(x - y) <= 1e-4, $"loss {x} vs {y}");
        float[] a = TrainerFixtures.Weights(plainModel), b = TrainerFixtures.Weights(chunkedModel);
        for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) <= 1e-5, $"weight {i}: {a[i]} vs {b[i]}");
    }

    [Fact]
    public void The_graph_holds_no_vocabulary_sized_activation_per_position()
    {
        // What the loss keeps for the backward pass: the plain path holds the float32 logits and their log-softmax
        // (2 × positions × vocabulary floats); the chunked one the head's gradients (positions × width and
        // vocabulary × width). Measured as native bytes in use after the loss, before backward.
        using var scope = NewDisposeScope();
        var config = new Gpt2Config { VocabSize = 4000, NPositions = 128, NEmbd = 32, NLayer = 1, NHead = 2 };
        torch.manual_seed(1);
        var model = LanguageModel.Create(config);
        model.train();
        using var generator = new Generator(5);
        var ids = randint(0, config.VocabSize, [4, 128], generator: generator);
        long items = ids.numel();
        long logitsBytes = items * config.VocabSize * sizeof(float);
        long Retained(Func<Tensor> loss)
        {
            using var inner = NewDisposeScope();
            GC.Collect();
            GC.WaitForPendingFinalizers();
            ReturnedGradients.Release();
            long before = NativeMemory.BytesInUse();
            var value = loss();
            long after = NativeMemory.BytesInUse();
            value.backward();
            return after - before;
        }
        Retained(() => ChunkedCrossEntropy.Loss(model.ForwardToHead(ids)!, ids, true, items, 0, 64)); // warm-up
        long plain = Retained(() => TrainingLoss.Summed(TrainingObjective.CausalLm, model.Forward(ids).Logits, ids).div(items));
        long chunked = Retained(() => ChunkedCrossEntropy.Loss(model.ForwardToHead(ids)!, ids, true, items, 0, 64));
        // The difference is the plain path's two logits-sized tensors less the head gradients the chunked path keeps
        // (weight: vocabulary × width, input: labelled positions × width), within 256 KiB (measured: 0.6% of it).
        long headGradients = ((long)config.VocabSize * config.NEmbd + (items - 4) * config.NEmbd) * sizeof(float);
        Assert.InRange(plain - chunked, 2 * logitsBytes - headGradients - (256 << 10), 2 * logitsBytes + (256 << 10));
    }

    private static void AssertSameAsPlain(string name, long chunk, double labelSmoothing, int windowFactor)
    {
        using var scope = NewDisposeScope();
        var model = Build(name);
        var (ids, labels) = Batch(model, seed: 4);
        bool causal = model.Objective == TrainingObjective.CausalLm;
        long items = TrainingLoss.CountItems(labels) * windowFactor;
        var plain = Gradients(model, () => labelSmoothing != 0
            ? LabelSmoother.Loss(model.Forward(ids).Logits, labels, labelSmoothing, causal)
            : TrainingLoss.Summed(model.Objective, model.Forward(ids).Logits, labels).div(items));
        var chunked = Gradients(model, () =>
            ChunkedCrossEntropy.Loss(model.ForwardToHead(ids)!, labels, causal, items, labelSmoothing, chunk));
        Assert.True(Math.Abs(plain.Loss - chunked.Loss) <= 1e-6 * Math.Abs(plain.Loss), $"loss {plain.Loss} vs {chunked.Loss}");
        Assert.Equal(model.parameters().Count(), chunked.Gradients.Count);
        foreach (var (parameter, gradient) in plain.Gradients)
        {
            var other = chunked.Gradients[parameter];
            double scale = Math.Max(gradient.abs().max().item<float>(), 1e-6f);
            double difference = gradient.sub(other).abs().max().item<float>();
            Assert.True(difference <= 1e-5 * scale, $"{parameter}: gradients differ by {difference} (largest {scale})");
        }
    }

    private sealed record Result(float Loss, Dictionary<string, Tensor> Gradients);

    private static Result Gradients(LanguageModel model, Func<Tensor> loss)
    {
        foreach (var parameter in model.parameters()) parameter.grad = null;
        var value = loss();
        value.backward();
        ReturnedGradients.Release();
        return new Result(value.item<float>(), model.named_parameters()
            .Where(p => p.parameter.grad is not null)
            .ToDictionary(p => p.name, p => p.parameter.grad!.clone()));
    }

    private static LanguageModel Build(string name)
    {
        ModelConfig config = name switch
        {
            "gpt2" => TinyConfigs.Gpt2() with { ResidPdrop = 0, EmbdPdrop = 0, AttnPdrop = 0 },
            "llama" => Llama(tied: false),
            "llama-tied" => Llama(tied: true),
            "bert" => TinyConfigs.Bert() with { HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0 },
            "roberta" => TinyConfigs.Roberta() with { HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0 },
            _ => throw new ArgumentException(name),
        };
        var model = LanguageModel.Create(config, seed: 3);
        model.train();
        return model;
    }

    private static (Tensor Ids, Tensor Labels) Batch(LanguageModel model, long seed)
    {
        using var generator = new Generator((ulong)seed);
        var ids = randint(5, model.VocabSize, [3, 12], generator: generator);
        if (model.Objective == TrainingObjective.CausalLm)
        {
            // Padding at the end of the second row is ignored, as a collator's -100 labels.
            var labels = ids.clone();
            labels[1, 9..] = tensor(LanguageModel.IgnoreIndex);
            return (ids, labels);
        }
        var masked = full(ids.shape, LanguageModel.IgnoreIndex, dtype: ScalarType.Int64);
        for (int j = 1; j < 12; j += 3) masked[.., j] = ids[.., j];
        return (ids, masked);
    }
}
