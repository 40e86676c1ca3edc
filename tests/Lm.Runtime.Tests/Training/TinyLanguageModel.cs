using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Training;

/// <summary>
/// A dropout-free language model small enough for step-by-step tests: embedding, a linear mixing layer, LayerNorm
/// and a vocabulary head, so that weight-decay grouping (biases, LayerNorm) and training have something to act on.
/// </summary>
internal sealed class TinyLanguageModel : nn.Module<Tensor, Tensor>
{
    private readonly Embedding wte;
    private readonly Linear mix;
    private readonly LayerNorm ln_f;
    private readonly Linear head;

    public TinyLanguageModel(int vocabSize = 32, int width = 16, long seed = 1) : base(nameof(TinyLanguageModel))
    {
        using var generator = new Generator((ulong)seed);
        wte = nn.Embedding(vocabSize, width);
        mix = nn.Linear(width, width);
        ln_f = nn.LayerNorm(width);
        head = nn.Linear(width, vocabSize);
        RegisterComponents();
        using var noGrad = no_grad();
        foreach (var (_, parameter) in named_parameters())
            parameter.copy_(normal(0, 0.2, parameter.shape, generator: generator));
    }

    /// <summary>Logits [batch, time, vocab]: each position sees its own token and the running mean of the ones before.</summary>
    public override Tensor forward(Tensor inputIds)
    {
        var x = wte.call(inputIds);
        var steps = arange(1, x.shape[1] + 1, dtype: x.dtype).view(1, -1, 1);
        var context = x.cumsum(1) / steps;
        var h = ln_f.call(x + nn.functional.gelu(mix.call(context)));
        return head.call(h);
    }
}
