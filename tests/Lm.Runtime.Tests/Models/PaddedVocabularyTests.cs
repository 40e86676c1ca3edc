using Lm.Runtime.Generation;
using Lm.Runtime.Models;
using Lm.Runtime.Tests.Tokenization;
using Lm.Runtime.Tests.Tokenization.TokenizerJson;
using Lm.Runtime.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Models;

/// <summary>
/// An embedding with rows beyond the tokenizer's last id (config vocab_size 640 for a tokenizer of fewer tokens, as
/// Qwen2.5 ships 151,936 rows for about 151,665 tokens): HF's model knows nothing of the tokenizer, so the logits
/// span every row, the loss normalises over all of them, the padding rows of the head are trained through the
/// softmax, generation may pick them, and decoding skips an id the tokenizer lacks.
/// </summary>
[Collection(TorchRandomCollection.Name)]
public sealed class PaddedVocabularyTests
{
    private const int Rows = 640;

    [Fact]
    public void Logits_loss_gradients_and_generation_cover_the_padding_rows()
    {
        using var folder = TokenizerTestFiles.NewFolder();
        folder.Write("tokenizer.json", TokenizerJsonVariants.Build("llama2").ToJsonString());
        LmTokenizer tokenizer = LmTokenizer.FromPretrained(folder.Path);
        Assert.InRange(tokenizer.VocabSize, 300, Rows - 1);

        using var scope = NewDisposeScope();
        var config = new LlamaConfig
        {
            VocabSize = Rows, HiddenWidth = 32, IntermediateSize = 48, NumHiddenLayers = 1, NumAttentionHeads = 4,
            NumKeyValueHeads = 2, MaxPositionEmbeddings = 64, TieWordEmbeddings = false,
        };
        using var model = LanguageModel.Create(config, seed: 11);
        model.train();
        long[] ids = [.. tokenizer.Encode("The quick brown fox jumps over the lazy dog.").Select(id => (long)id)];
        Tensor input = tensor(ids).unsqueeze(0);
        LanguageModelOutput output = model.Forward(input, labels: input);
        Assert.Equal([1L, ids.Length, Rows], output.Logits.shape);

        // The causal loss by hand over all 640 logits: mean of -log_softmax at the next token.
        Tensor logProbs = output.Logits.detach().to(ScalarType.Float64).log_softmax(-1);
        double expected = Enumerable.Range(0, ids.Length - 1).Average(t => -logProbs[0, t, ids[t + 1]].item<double>());
        Assert.Equal(expected, output.Loss!.item<float>(), 5);

        // Every padding row of the head gets a gradient through the softmax's denominator, as in HF.
        output.Loss.backward();
        Tensor headGrad = model.StateDict()["lm_head.weight"].grad!;
        Tensor paddingRows = headGrad.narrow(0, tokenizer.VocabSize, Rows - tokenizer.VocabSize).abs().sum(1);
        Assert.True(paddingRows.min().item<float>() > 0);

        // With the tokenizer's rows of the head zeroed, their logits are 0 and greedy search picks a padding row
        // (some random padding logit is positive); decoding skips ids the tokenizer lacks, as tokenizers does.
        using (no_grad())
        {
            model.StateDict()["lm_head.weight"].narrow(0, 0, tokenizer.VocabSize).zero_();
        }

        model.eval();
        GenerationResult result = TextGenerator.Generate(model, ids, new GenerationOptions { MaxNewTokens = 3 });
        Assert.Equal(3, result.NewTokenIds.Count);
        Assert.All(result.NewTokenIds, id => Assert.InRange(id, tokenizer.VocabSize, Rows - 1));
        Assert.Equal(tokenizer.Decode(ids.Select(id => (int)id)), tokenizer.Decode([.. ids.Select(id => (int)id), .. result.NewTokenIds.Select(id => (int)id)]));
    }
}
