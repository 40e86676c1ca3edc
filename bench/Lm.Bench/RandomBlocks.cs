using Lm.Runtime.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Bench;

/// <summary>Uniformly random token blocks, collated as run_clm.py's default_data_collator.</summary>
internal sealed class RandomBlocks(int count, int length, int vocab, int seed) : IBatchSource
{
    private readonly long[] _ids = RandomIds(count * length, vocab, seed);

    public int Count => count;

    public Batch Collate(IReadOnlyList<int> indices)
    {
        var rows = new long[indices.Count * length];
        for (int i = 0; i < indices.Count; i++) Array.Copy(_ids, indices[i] * length, rows, i * length, length);
        long[] shape = [indices.Count, length];
        return new Batch(tensor(rows, shape), ones(shape, ScalarType.Int64), tensor(rows, shape));
    }

    public Tensor? GetRandomState() => null;

    public void SetRandomState(Tensor state) { }

    private static long[] RandomIds(int n, int vocab, int seed)
    {
        var random = new Random(seed);
        var ids = new long[n];
        for (int i = 0; i < n; i++) ids[i] = random.Next(vocab);
        return ids;
    }
}
