namespace Lm.Runtime.Native;

/// <summary>
/// How lm-tune's own element-wise CPU passes (AdamW's update, gelu_new's passes) split a tensor between .NET threads:
/// blocks of <see cref="BlockSize"/> elements, and below <see cref="ParallelThreshold"/> elements the calling thread
/// alone (a parallel loop costs more than it saves there).
/// </summary>
internal static class ElementBlocks
{
    /// <summary>Below this many elements a pass runs on the calling thread only.</summary>
    internal const long ParallelThreshold = 1 << 18;

    /// <summary>Elements per parallel block: a multiple of every vector width.</summary>
    internal const long BlockSize = 1 << 16;

    /// <summary>Runs <paramref name="body"/>(start, length) over <paramref name="count"/> elements on up to <paramref name="threads"/> threads.</summary>
    public static void For(long count, int threads, Action<long, long> body)
    {
        if (count < ParallelThreshold || threads < 2)
        {
            body(0, count);
            return;
        }
        long blocks = (count + BlockSize - 1) / BlockSize;
        Parallel.For(0L, blocks, new ParallelOptions { MaxDegreeOfParallelism = threads },
            block => body(block * BlockSize, Math.Min(BlockSize, count - block * BlockSize)));
    }
}
