namespace Lm.Runtime.Data;

/// <summary>One raw row picked for a preview.</summary>
public sealed record PreviewRow(long Index, string Text);

/// <summary>One tokenized example picked for a preview.</summary>
public sealed record PreviewExample(int Index, int[] Ids);

/// <summary>
/// The tutorial's <c>show_random_elements</c> as data: distinct random rows or examples, for a front end to print
/// as a table (this type never writes to the console).
/// </summary>
public static class DatasetPreview
{
    /// <summary>
    /// <paramref name="count"/> distinct random rows of <paramref name="source"/> (all rows when it has fewer), in
    /// the order they were drawn; the same seed picks the same rows.
    /// </summary>
    public static IReadOnlyList<PreviewRow> RandomRows(TextSource source, int count, int seed = 42)
    {
        long total = source.CountRows();
        long[] picks = Pick(total, count, seed);
        var wanted = picks.Select((index, order) => (index, order)).ToDictionary(p => p.index, p => p.order);
        var rows = new PreviewRow[picks.Length];
        long position = 0;
        int found = 0;
        foreach (string row in source.ReadRows())
        {
            if (wanted.TryGetValue(position, out int order))
            {
                rows[order] = new PreviewRow(position, row);
                if (++found == picks.Length) break;
            }
            position++;
        }
        return rows;
    }

    /// <summary><paramref name="count"/> distinct random examples of a tokenized split; decode them to show text.</summary>
    public static IReadOnlyList<PreviewExample> RandomExamples(LmDataset dataset, int count, int seed = 42) =>
        Pick(dataset.Count, count, seed).Select(i => new PreviewExample((int)i, dataset.GetIds((int)i))).ToList();

    /// <summary><paramref name="count"/> distinct random indices below <paramref name="total"/>, as the previews pick them.</summary>
    public static long[] RandomIndices(long total, int count, int seed = 42) => Pick(total, count, seed);

    private static long[] Pick(long total, int count, int seed)
    {
        int n = (int)Math.Min(Math.Max(count, 0), total);
        var random = new Random(seed);
        var picks = new List<long>(n);
        var seen = new HashSet<long>();
        while (picks.Count < n)
        {
            long index = random.NextInt64(total);
            if (seen.Add(index)) picks.Add(index);
        }
        return picks.ToArray();
    }
}
