using Lm.Runtime.Models;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Models;

/// <summary>
/// Logits and losses equal HF's: the expected numbers come from PyTorch 1.13 running transformers 4.46's eager
/// forward code (GPT-2's causal where-mask, Conv1D addmm, gelu_new; BERT/RoBERTa's additive extended mask, erf GELU,
/// RoBERTa positions; HF's shifted CLM loss and -100-ignoring MLM loss) on the weights HF's seeded initialisation
/// gives for these tiny shapes (seed 42, see HfInitializationTests).
/// </summary>
[Collection(TorchRandomCollection.Name)]
public class HfForwardTests
{
    private const double Tolerance = 2e-6;

    private static void AssertLogits(Tensor logits, int batch, int position, double[] expected)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.Equal(expected[i], logits[batch, position, i].item<float>(), Tolerance);
    }

    /// <summary>
    /// The encoders' logits at <paramref name="columns"/>: the padding token's column is left out (it is 0 for any
    /// input, the tied decoder row of the zeroed padding embedding with a zero bias) and the label tokens' columns
    /// (5, 7, 12) are in.
    /// </summary>
    private static void AssertLogits(Tensor logits, int batch, int position, int[] columns, double[] expected)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.Equal(expected[i], logits[batch, position, columns[i]].item<float>(), Tolerance);
    }

    [Fact]
    public void Gpt2_logits_and_loss_equal_hf()
    {
        using var model = LanguageModel.Create(TinyConfigs.Gpt2(), seed: 42);
        model.eval();
        using var scope = NewDisposeScope();
        var ids = tensor(new long[,] { { 5, 17, 256, 3, 999, 42, 7, 8 } });
        var plain = model.Forward(ids, labels: ids);
        Assert.Equal(6.853957653045654, plain.Loss!.item<float>(), 1e-5);
        AssertLogits(plain.Logits, 0, 0, [-0.22469162940979004, 0.22922779619693756, 0.05046430975198746]);
        AssertLogits(plain.Logits, 0, 4, [0.10185125470161438, -0.06500512361526489, 0.03587980568408966]);
        AssertLogits(plain.Logits, 0, 7, [0.12764959037303925, -0.09441936016082764, -0.1088361144065857]);

        var padded = model.Forward(
            tensor(new long[,] { { 5, 17, 256, 3, 0, 0 }, { 7, 8, 9, 10, 11, 12 } }),
            tensor(new long[,] { { 1, 1, 1, 1, 0, 0 }, { 1, 1, 1, 1, 1, 1 } }),
            tensor(new long[,] { { 5, 17, 256, 3, -100, -100 }, { 7, 8, 9, 10, 11, 12 } }));
        Assert.Equal(6.881749153137207, padded.Loss!.item<float>(), 1e-5);
        AssertLogits(padded.Logits, 0, 3, [0.004568547010421753, 0.1711502969264984, -0.007130570709705353]);
        AssertLogits(padded.Logits, 1, 5, [0.01651711016893387, 0.00766743253916502, 0.07057692855596542]);
    }

    private static readonly long[,] EncoderMask = { { 1, 1, 1, 1, 1, 0, 0 }, { 1, 1, 1, 1, 1, 1, 1 } };
    private static readonly long[,] EncoderLabels = { { -100, 5, -100, 7, -100, -100, -100 }, { -100, -100, 9, -100, -100, 12, -100 } };

    [Fact]
    public void Roberta_logits_and_loss_equal_hf()
    {
        using var model = LanguageModel.Create(TinyConfigs.Roberta(), seed: 42);
        model.eval();
        using var scope = NewDisposeScope();
        var output = model.Forward(tensor(new long[,] { { 0, 5, 6, 7, 2, 1, 1 }, { 0, 8, 9, 10, 11, 12, 2 } }),
            tensor(EncoderMask), tensor(EncoderLabels));
        Assert.Equal(6.971585273742676, output.Loss!.item<float>(), 1e-5);
        int[] columns = [0, 2, 5, 7, 12];
        AssertLogits(output.Logits, 0, 1, columns, [-0.09775815159082413, 0.162900909781456, 0.04706082493066788, -0.07257434725761414, -0.25942331552505493]);
        AssertLogits(output.Logits, 0, 4, columns, [-0.014260590076446533, 0.24988189339637756, -0.01688448153436184, -0.15879620611667633, 0.04878741502761841]);
        AssertLogits(output.Logits, 1, 6, columns, [0.050134770572185516, 0.18268391489982605, -0.002395487856119871, -0.19969826936721802, 0.14659276604652405]);
    }

    [Fact]
    public void Bert_logits_and_loss_equal_hf()
    {
        using var model = LanguageModel.Create(TinyConfigs.Bert(), seed: 42);
        model.eval();
        using var scope = NewDisposeScope();
        var output = model.Forward(tensor(new long[,] { { 2, 5, 6, 7, 3, 0, 0 }, { 2, 8, 9, 10, 11, 12, 3 } }),
            tensor(EncoderMask), tensor(EncoderLabels));
        Assert.Equal(6.916588306427002, output.Loss!.item<float>(), 1e-5);
        int[] columns = [1, 2, 5, 7, 12];
        AssertLogits(output.Logits, 0, 1, columns, [0.016168691217899323, 0.1876705288887024, -0.04019512981176376, -0.0471915565431118, -0.19663792848587036]);
        AssertLogits(output.Logits, 0, 4, columns, [0.09573154896497726, 0.12783648073673248, -0.07950077205896378, -0.2397390604019165, -0.26132282614707947]);
        AssertLogits(output.Logits, 1, 6, columns, [-0.0839390829205513, -0.0069554089568555355, -0.14751699566841125, -0.0490746833384037, -0.2524261176586151]);
    }
}
