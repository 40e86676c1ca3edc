using Lm.Runtime.Models;
using TorchSharp;
using static Lm.Runtime.Tests.Models.TensorAssert;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Models;

public class EncoderModelTests
{
    private static string[] EncoderKeys(string prefix) =>
    [
        $"{prefix}.embeddings.word_embeddings.weight", $"{prefix}.embeddings.position_embeddings.weight",
        $"{prefix}.embeddings.token_type_embeddings.weight",
        $"{prefix}.embeddings.LayerNorm.weight", $"{prefix}.embeddings.LayerNorm.bias",
        .. Enumerable.Range(0, 2).SelectMany(i => new[]
        {
            $"{prefix}.encoder.layer.{i}.attention.self.query.weight", $"{prefix}.encoder.layer.{i}.attention.self.query.bias",
            $"{prefix}.encoder.layer.{i}.attention.self.key.weight", $"{prefix}.encoder.layer.{i}.attention.self.key.bias",
            $"{prefix}.encoder.layer.{i}.attention.self.value.weight", $"{prefix}.encoder.layer.{i}.attention.self.value.bias",
            $"{prefix}.encoder.layer.{i}.attention.output.dense.weight", $"{prefix}.encoder.layer.{i}.attention.output.dense.bias",
            $"{prefix}.encoder.layer.{i}.attention.output.LayerNorm.weight", $"{prefix}.encoder.layer.{i}.attention.output.LayerNorm.bias",
            $"{prefix}.encoder.layer.{i}.intermediate.dense.weight", $"{prefix}.encoder.layer.{i}.intermediate.dense.bias",
            $"{prefix}.encoder.layer.{i}.output.dense.weight", $"{prefix}.encoder.layer.{i}.output.dense.bias",
            $"{prefix}.encoder.layer.{i}.output.LayerNorm.weight", $"{prefix}.encoder.layer.{i}.output.LayerNorm.bias",
        }),
    ];

    // HF transformers 4.46 RobertaForMaskedLM(2 layers).state_dict().keys(): no pooler, non-persistent position_ids and
    // token_type_ids buffers; lm_head.decoder.weight / .bias are the tied aliases.
    private static readonly string[] HfRobertaKeys =
    [
        .. EncoderKeys("roberta"),
        "lm_head.bias", "lm_head.dense.weight", "lm_head.dense.bias", "lm_head.layer_norm.weight", "lm_head.layer_norm.bias",
        "lm_head.decoder.weight", "lm_head.decoder.bias",
    ];

    // HF transformers 4.46 BertForMaskedLM(2 layers).state_dict().keys().
    private static readonly string[] HfBertKeys =
    [
        .. EncoderKeys("bert"),
        "cls.predictions.bias", "cls.predictions.transform.dense.weight", "cls.predictions.transform.dense.bias",
        "cls.predictions.transform.LayerNorm.weight", "cls.predictions.transform.LayerNorm.bias",
        "cls.predictions.decoder.weight", "cls.predictions.decoder.bias",
    ];

    private static LanguageModel Roberta(long seed = 1)
    {
        var model = LanguageModel.Create(TinyConfigs.Roberta(), seed);
        model.eval();
        return model;
    }

    private static LanguageModel Bert(long seed = 1)
    {
        var model = LanguageModel.Create(TinyConfigs.Bert(), seed);
        model.eval();
        return model;
    }

    [Fact]
    public void Roberta_state_dict_names_are_hf_names_with_two_tied_aliases()
    {
        using var model = Roberta();
        var names = model.named_parameters().Select(p => p.name).ToList();
        Assert.Equal(HfRobertaKeys.Order(), names.Concat(model.TiedWeights.Keys).Order());
        Assert.Equal(HfRobertaKeys.Except(model.TiedWeights.Keys).Order(), names.Order());
        Assert.Equal("lm_head.bias", model.TiedWeights["lm_head.decoder.bias"]);
        Assert.Empty(model.named_buffers());
        Assert.IsType<RobertaForMaskedLM>(model);
        Assert.Equal(TrainingObjective.MaskedLm, model.Objective);
    }

    [Fact]
    public void Bert_state_dict_names_are_hf_names_with_two_tied_aliases()
    {
        using var model = Bert();
        var names = model.named_parameters().Select(p => p.name).ToList();
        Assert.Equal(HfBertKeys.Order(), names.Concat(model.TiedWeights.Keys).Order());
        Assert.Equal("bert.embeddings.word_embeddings.weight", model.TiedWeights["cls.predictions.decoder.weight"]);
        Assert.Empty(model.named_buffers());
        Assert.IsType<BertForMaskedLM>(model);
    }

    [Fact]
    public void Roberta_positions_start_after_padding_and_skip_padding()
    {
        using var ids = tensor(new long[,] { { 0, 5, 6, 2, 1, 1 }, { 1, 1, 0, 7, 8, 2 } });
        using var positions = EncoderEmbeddings.RobertaPositionIds(ids, 1);
        Assert.Equal(new long[] { 2, 3, 4, 5, 1, 1, 1, 1, 2, 3, 4, 5 }, positions.data<long>().ToArray());
    }

    [Fact]
    public void Roberta_left_or_right_padding_does_not_change_real_positions()
    {
        using var model = Roberta();
        using var scope = NewDisposeScope();
        var alone = model.Forward(tensor(new long[] { 0, 5, 6, 2 }).unsqueeze(0)).Logits[0];
        var right = model.Forward(tensor(new long[] { 0, 5, 6, 2, 1, 1 }).unsqueeze(0), tensor(new long[] { 1, 1, 1, 1, 0, 0 }).unsqueeze(0)).Logits[0];
        var left = model.Forward(tensor(new long[] { 1, 1, 0, 5, 6, 2 }).unsqueeze(0), tensor(new long[] { 0, 0, 1, 1, 1, 1 }).unsqueeze(0)).Logits[0];
        Assert.True(alone.allclose(right[..4], rtol: 1e-5, atol: 1e-5));
        Assert.True(alone.allclose(left[2..], rtol: 1e-5, atol: 1e-5));
    }

    [Fact]
    public void Bert_padding_does_not_change_outputs_at_real_positions()
    {
        using var model = Bert();
        using var scope = NewDisposeScope();
        var batch = tensor(new long[,] { { 101, 7, 8, 102, 0, 0 }, { 101, 9, 10, 11, 12, 102 } });
        var mask = tensor(new long[,] { { 1, 1, 1, 1, 0, 0 }, { 1, 1, 1, 1, 1, 1 } });
        var together = model.Forward(batch, mask).Logits;
        var first = model.Forward(tensor(new long[] { 101, 7, 8, 102 }).unsqueeze(0)).Logits[0];
        var second = model.Forward(batch[1..]).Logits[0];
        Assert.True(first.allclose(together[0, ..4], rtol: 1e-5, atol: 1e-5));
        Assert.True(second.allclose(together[1], rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void Padding_without_a_mask_does_change_outputs()
    {
        // The mask matters: the same padded ids attended to give different real-position outputs.
        using var model = Bert();
        using var scope = NewDisposeScope();
        var ids = tensor(new long[] { 101, 7, 8, 102, 0, 0 }).unsqueeze(0);
        var masked = model.Forward(ids, tensor(new long[] { 1, 1, 1, 1, 0, 0 }).unsqueeze(0)).Logits[0, ..4];
        var unmasked = model.Forward(ids).Logits[0, ..4];
        Assert.False(masked.allclose(unmasked, rtol: 1e-5, atol: 1e-5));
    }

    [Theory]
    [InlineData("roberta")]
    [InlineData("bert")]
    public void Mlm_loss_is_cross_entropy_over_labels_not_minus_100(string kind)
    {
        using var model = kind == "roberta" ? Roberta() : Bert();
        using var scope = NewDisposeScope();
        long[] ids = [3, 17, 4, 256, 999, 42, 7, 8];
        long[] labels = [-100, 17, -100, -100, 999, -100, 7, -100];
        var output = model.Forward(tensor(ids).unsqueeze(0), labels: tensor(labels).unsqueeze(0));
        Assert.Equal(CrossEntropy(output.Logits[0], labels), output.Loss!.item<float>(), 5);
        Assert.Equal(new long[] { 1, 8, 1000 }, output.Logits.shape);
    }

    [Theory]
    [InlineData("roberta", "roberta.embeddings.word_embeddings.weight")]
    [InlineData("bert", "bert.embeddings.word_embeddings.weight")]
    public void The_decoder_is_the_word_embedding_one_parameter(string kind, string owner)
    {
        using var model = kind == "roberta" ? Roberta() : Bert();
        var parameters = model.parameters().ToList();
        Assert.Equal(parameters.Count, parameters.Select(p => p.Handle).Distinct().Count());
        var embedding = model.StateDict()[owner];
        using var before = embedding.detach().clone();
        var optimizer = optim.SGD(model.parameters(), 1.0);
        using (var scope = NewDisposeScope())
        {
            var ids = tensor(new long[] { 3, 17, 4, 256 }).unsqueeze(0);
            model.Forward(ids, labels: tensor(new long[] { -100, 5, -100, 6 }).unsqueeze(0)).Loss!.backward();
        }
        using var grad = embedding.grad!.clone();
        optimizer.step();
        // The decoder's gradient reaches the embedding: rows 5 and 6 (targets) move although only 3, 17, 4, 256 were inputs.
        Assert.True(grad[5].abs().sum().item<float>() > 0);
        Assert.True(embedding.detach().allclose(before - grad, rtol: 0, atol: 1e-7));
    }

    [Fact]
    public void Initialisation_zeroes_padding_rows_and_biases()
    {
        using var roberta = Roberta(seed: 5);
        var r = roberta.StateDict();
        Assert.Equal(0f, r["roberta.embeddings.word_embeddings.weight"][1].abs().sum().item<float>());
        Assert.Equal(0f, r["roberta.embeddings.position_embeddings.weight"][1].abs().sum().item<float>());
        Assert.True(r["roberta.embeddings.position_embeddings.weight"][2].abs().sum().item<float>() > 0);
        Assert.Equal(0f, r["lm_head.bias"].abs().sum().item<float>());
        Assert.InRange(r["roberta.encoder.layer.1.attention.self.key.weight"].std().item<float>(), 0.015, 0.025);
        Assert.Equal(0f, r["roberta.encoder.layer.1.attention.self.key.bias"].abs().sum().item<float>());
        using var bert = Bert(seed: 5);
        var b = bert.StateDict();
        Assert.Equal(0f, b["bert.embeddings.word_embeddings.weight"][0].abs().sum().item<float>());
        Assert.True(b["bert.embeddings.position_embeddings.weight"][0].abs().sum().item<float>() > 0);
        Assert.Equal(1f, b["cls.predictions.transform.LayerNorm.weight"].min().item<float>());
    }

    [Fact]
    public void Roberta_max_positions_leave_room_for_the_padding_offset()
    {
        using var model = Roberta();
        Assert.Equal(64, model.MaxPositions);
        using var ok = ones(1, 64, dtype: ScalarType.Int64).mul(5);
        Assert.Equal(new long[] { 1, 64, 1000 }, model.Forward(ok).Logits.shape);
        using var tooLong = ones(1, 65, dtype: ScalarType.Int64).mul(5);
        Assert.Equal(Lm.Runtime.Errors.ErrorCodes.SequenceTooLong, Assert.Throws<Lm.Runtime.Errors.LmException>(() => model.Forward(tooLong)).Code);
    }
}
