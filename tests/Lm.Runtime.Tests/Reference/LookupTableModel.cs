using Lm.Runtime.Models;
using Lm.Runtime.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Reference;

/// <summary>
/// A language model whose logits are a table lookup: the logits at a position are row <c>input_ids[b, t]</c> of
/// one <c>[vocab, vocab]</c> parameter. Its outputs, losses and gradients follow from the table by hand, so the
/// trainer's and evaluator's numbers can be checked against <see cref="PlainLoop"/> without running lm-tune's models.
/// </summary>
internal sealed class LookupTableModel : LanguageModel
{
    private readonly Parameter table;

    public LookupTableModel(double[,] values, TrainingObjective objective)
        : base(nameof(LookupTableModel), new Gpt2Config { VocabSize = values.GetLength(0), NPositions = 64, NEmbd = 4, NLayer = 1, NHead = 1 })
    {
        int vocab = values.GetLength(0);
        if (values.GetLength(1) != vocab) throw new ArgumentException("the table must be square", nameof(values));
        Objective = objective;
        var flat = new float[vocab * vocab];
        for (int i = 0; i < vocab; i++)
            for (int j = 0; j < vocab; j++) flat[i * vocab + j] = (float)values[i, j];
        table = new Parameter(tensor(flat, [vocab, vocab]));
        RegisterComponents();
    }

    public override TrainingObjective Objective { get; }

    public override string BaseModelPrefix => "";

    public override IReadOnlyDictionary<string, string> TiedWeights { get; } = new Dictionary<string, string>();

    public override LanguageModelOutput Forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? labels = null)
    {
        var logits = table.index_select(0, inputIds.flatten()).view(inputIds.shape[0], inputIds.shape[1], -1);
        Tensor? loss = labels is null ? null
            : Objective == TrainingObjective.CausalLm ? CausalLmLoss(logits, labels) : MaskedLmLoss(logits, labels);
        return new LanguageModelOutput(loss, logits);
    }

    /// <summary>The table's current values (the trainer changes them), in double for the plain-loop expectations.</summary>
    public double[,] Values()
    {
        int vocab = (int)table.shape[0];
        float[] flat = table.detach().data<float>().ToArray();
        var values = new double[vocab, vocab];
        for (int i = 0; i < vocab; i++)
            for (int j = 0; j < vocab; j++) values[i, j] = flat[i * vocab + j];
        return values;
    }

    /// <summary>A table with entries drawn from <paramref name="seed"/> (System.Random, not torch), in [-2, 2).</summary>
    public static double[,] RandomValues(int vocab, int seed)
    {
        var random = new Random(seed);
        var values = new double[vocab, vocab];
        for (int i = 0; i < vocab; i++)
            for (int j = 0; j < vocab; j++) values[i, j] = Math.Round(4 * random.NextDouble() - 2, 3);
        return values;
    }
}
