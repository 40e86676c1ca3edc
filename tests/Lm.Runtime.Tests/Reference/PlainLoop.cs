namespace Lm.Runtime.Tests.Reference;

/// <summary>One example as the collator hands it to the model: token ids and labels (-100 = not predicted).</summary>
internal sealed record PlainExample(int[] InputIds, int[] Labels);

/// <summary>
/// Expectations computed by plain loops in double precision, independent of lm-tune and of torch: the cross entropy,
/// gradient and accuracy of a <see cref="LookupTableModel"/>, written from the definitions (HF's
/// <c>ForCausalLMLoss</c> / <c>ForMaskedLMLoss</c> with <c>num_items_in_batch</c>, run_clm.py's and run_mlm.py's
/// <c>compute_metrics</c>), not from the production code.
/// </summary>
internal static class PlainLoop
{
    public const int Ignore = -100;

    /// <summary>
    /// The (context token, target) pairs a model is scored on: causal LM pairs token t with label t+1 (HF shifts the
    /// labels left), masked LM pairs token t with label t; pairs whose label is -100 are skipped.
    /// </summary>
    public static IEnumerable<(int Token, int Target)> ScoredPairs(PlainExample example, bool causal)
    {
        int length = example.InputIds.Length;
        for (int t = 0; t < length; t++)
        {
            int label = causal ? (t + 1 < length ? example.Labels[t + 1] : Ignore) : example.Labels[t];
            if (label != Ignore) yield return (example.InputIds[t], label);
        }
    }

    /// <summary>Labels that are not -100, before any shift: what HF's <c>get_batch_samples</c> counts (transformers 4.49 and later).</summary>
    public static int CountItems(IEnumerable<PlainExample> examples) => examples.Sum(e => e.Labels.Count(l => l != Ignore));

    /// <summary><c>-log softmax(row)[target]</c>.</summary>
    public static double CrossEntropy(double[,] table, int token, int target)
    {
        int vocab = table.GetLength(1);
        double max = double.NegativeInfinity;
        for (int j = 0; j < vocab; j++) max = Math.Max(max, table[token, j]);
        double sum = 0;
        for (int j = 0; j < vocab; j++) sum += Math.Exp(table[token, j] - max);
        return max + Math.Log(sum) - table[token, target];
    }

    /// <summary>
    /// The loss of one accumulation window as HF ≥ 4.46 computes it: every scored pair's cross entropy summed over
    /// all micro-batches of the window, divided by the window's item count; and the gradient of that loss with
    /// respect to the table (<c>softmax(row) - onehot(target)</c> per pair, divided by the same count).
    /// </summary>
    public static (double Loss, double[,] Gradient) Window(double[,] table, IReadOnlyList<PlainExample> window, bool causal)
    {
        int vocab = table.GetLength(1);
        int items = CountItems(window);
        double loss = 0;
        var gradient = new double[vocab, vocab];
        foreach (var example in window)
        {
            foreach (var (token, target) in ScoredPairs(example, causal))
            {
                loss += CrossEntropy(table, token, target);
                double max = double.NegativeInfinity;
                for (int j = 0; j < vocab; j++) max = Math.Max(max, table[token, j]);
                double sum = 0;
                for (int j = 0; j < vocab; j++) sum += Math.Exp(table[token, j] - max);
                for (int j = 0; j < vocab; j++)
                    gradient[token, j] += (Math.Exp(table[token, j] - max) / sum - (j == target ? 1 : 0)) / items;
            }
        }
        return (loss / items, gradient);
    }

    /// <summary>The L2 norm of all entries (torch's <c>clip_grad_norm_</c> total norm for one parameter).</summary>
    public static double Norm(double[,] values)
    {
        double sum = 0;
        foreach (double v in values) sum += v * v;
        return Math.Sqrt(sum);
    }

    /// <summary>Index of the largest entry of a row (the first one on ties, as torch's argmax on CPU).</summary>
    public static int ArgMax(double[,] table, int row)
    {
        int best = 0;
        for (int j = 1; j < table.GetLength(1); j++)
            if (table[row, j] > table[row, best]) best = j;
        return best;
    }
}
