using static TorchSharp.torch;

namespace Lm.Runtime.Training;

/// <summary>
/// Splits a flat tensor of <c>n</c> elements into pieces for elementwise operations that must give exactly what one
/// call over the whole tensor gives. libtorch's CPU kernels run a vector loop over each thread's range, two vectors
/// at a time, and a scalar loop over the range's last few elements; the vector and scalar code may round differently
/// (a fused multiply-add in one of them, as in <c>lerp</c>). A whole-tensor call splits <c>[0, n)</c> into
/// <c>min(threads, ⌈n / 32768⌉)</c> ranges of <c>⌈n / tasks⌉</c> elements (<c>at::parallel_for</c>, grain 32768).
/// The pieces here never cross those ranges and start at a multiple of 32 elements from their range's start. A
/// piece is either long (a multiple of 32 × threads, at least threads × 32768, so that libtorch splits it into equal
/// thread ranges that are multiples of 32 again) or at most 32768 long (one thread, no split); only the last piece of
/// a range has a length that is not a multiple of 32. Every element is then computed by the same code as in the
/// whole call.
/// </summary>
internal static class ElementwisePieces
{
    /// <summary><c>at::internal::GRAIN_SIZE</c>: ranges not longer than this run on one thread.</summary>
    private const long Grain = 32768;

    /// <summary>Twice the widest vector (16 floats with AVX-512): the vector loop's step.</summary>
    private const long Alignment = 32;

    /// <summary>
    /// The pieces of <c>[0, <paramref name="count"/>)</c>, the long ones about <paramref name="pieceLength"/> long; one
    /// piece (the whole range) when it is not longer than that.
    /// </summary>
    public static List<(long Start, long Length)> Of(long count, long pieceLength) => Of(count, pieceLength, get_num_threads());

    /// <summary><see cref="Of(long, long)"/> for a given number of torch threads.</summary>
    public static List<(long Start, long Length)> Of(long count, long pieceLength, int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pieceLength, 1);
        var pieces = new List<(long, long)>();
        if (count <= pieceLength)
        {
            pieces.Add((0, count));
            return pieces;
        }
        threads = Math.Max(threads, 1);
        long longStep = Alignment * threads;
        long longPiece = (Math.Max(pieceLength, threads * Grain) + longStep - 1) / longStep * longStep;
        long tasks = count > Grain ? Math.Min(threads, (count + Grain - 1) / Grain) : 1;
        long rangeLength = (count + tasks - 1) / tasks;
        for (long rangeStart = 0; rangeStart < count; rangeStart += rangeLength)
        {
            long end = Math.Min(count, rangeStart + rangeLength), position = rangeStart;
            for (; end - position >= longPiece; position += longPiece) pieces.Add((position, longPiece));
            for (; end - position > Grain; position += Grain) pieces.Add((position, Grain));
            if (position < end) pieces.Add((position, end - position));
        }
        return pieces;
    }
}
