namespace Lm.Runtime.Data.Chat;

/// <summary>A packed sequence: examples laid end to end, with the length of each (TRL's <c>seq_lengths</c>; empty for wrapped packing).</summary>
public sealed record PackedSequence(int[] InputIds, int[] Labels, int[] SequenceLengths);

/// <summary>
/// TRL's <c>pack_dataset</c>, run as <c>datasets.map(batched=True)</c> runs it: on each batch of 1000 examples.
/// <list type="bullet">
/// <item><c>bfd</c> (<c>_pack_bfd</c>): empty examples dropped, each cut to <c>seq_length</c>, then taken longest
/// first (a stable sort, ties in dataset order) into the open sequence with the least room that still fits it
/// (sequences with equal room in the order they got it), else a new sequence; sequences come out in the order they
/// were opened, each example's tokens and labels whole.</item>
/// <item><c>wrapped</c> (<c>_pack_wrapped</c>): the batch's ids concatenated and cut every <c>seq_length</c> tokens;
/// the last, shorter piece is kept.</item>
/// </list>
/// </summary>
public static class SequencePacker
{
    /// <summary>Examples per <c>map</c> batch (the <c>datasets</c> default TRL leaves in place).</summary>
    public const int MapBatchSize = 1000;

    public static List<PackedSequence> Pack(IReadOnlyList<SupervisedExample> examples, int seqLength, string strategy)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(seqLength, 1);
        var packed = new List<PackedSequence>();
        for (int start = 0; start < examples.Count; start += MapBatchSize)
        {
            var batch = examples.Skip(start).Take(MapBatchSize).ToList();
            packed.AddRange(strategy == "wrapped" ? Wrapped(batch, seqLength) : BestFitDecreasing(batch, seqLength));
        }
        return packed;
    }

    private static IEnumerable<PackedSequence> BestFitDecreasing(List<SupervisedExample> batch, int seqLength)
    {
        var kept = batch.Where(e => e.InputIds.Length > 0)
            .Select(e => new SupervisedExample(e.InputIds[..Math.Min(seqLength, e.InputIds.Length)], e.Labels[..Math.Min(seqLength, e.Labels.Length)]))
            .ToList();
        var order = Enumerable.Range(0, kept.Count).OrderByDescending(i => kept[i].InputIds.Length).ToList(); // OrderBy is stable.

        // Room left → the sequences with that room, in the order they got it; a full-length room is always open.
        var bins = new List<List<int>>();
        var byRoom = new Dictionary<int, Queue<List<int>>>();
        var rooms = new SortedSet<int>();
        foreach (int index in order)
        {
            int length = kept[index].InputIds.Length;
            var view = rooms.GetViewBetween(length, seqLength);
            int room = view.Count > 0 ? view.Min : seqLength;
            List<int> bin;
            if (room < seqLength)
            {
                bin = byRoom[room].Dequeue();
                if (byRoom[room].Count == 0) rooms.Remove(room);
            }
            else
            {
                bin = [];
                bins.Add(bin);
            }
            bin.Add(index);
            int left = room - length;
            if (!byRoom.TryGetValue(left, out var queue)) byRoom[left] = queue = new Queue<List<int>>();
            queue.Enqueue(bin);
            if (left > 0) rooms.Add(left);
        }
        foreach (var bin in bins)
        {
            yield return new PackedSequence(
                bin.SelectMany(i => kept[i].InputIds).ToArray(),
                bin.SelectMany(i => kept[i].Labels).ToArray(),
                bin.Select(i => kept[i].InputIds.Length).ToArray());
        }
    }

    private static IEnumerable<PackedSequence> Wrapped(List<SupervisedExample> batch, int seqLength)
    {
        int[] ids = batch.SelectMany(e => e.InputIds).ToArray();
        int[] labels = batch.SelectMany(e => e.Labels).ToArray();
        for (int start = 0; start < ids.Length; start += seqLength)
        {
            int end = Math.Min(ids.Length, start + seqLength);
            yield return new PackedSequence(ids[start..end], labels[start..end], []);
        }
    }
}
