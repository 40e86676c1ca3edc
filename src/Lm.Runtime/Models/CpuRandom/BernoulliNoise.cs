using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Lm.Runtime.Models.CpuRandom;

/// <summary>
/// Dropout's noise as libtorch's default CPU <c>bernoulli_(q)</c> followed by <c>div_(q)</c> leaves it, written
/// straight into the noise tensor's memory. libtorch (aten/src/ATen/native/cpu/DistributionTemplates.h,
/// <c>bernoulli_kernel(self, double p, gen)</c>) draws element after element in memory order with
/// <c>cpu_serial_kernel</c>: <c>bernoulli_distribution&lt;double&gt;(q)</c> takes <c>random64()</c> (two engine words,
/// the first the high half; CPUGeneratorImpl.cpp), keeps its low 53 bits <c>n</c> and returns
/// <c>n · 2^-53 &lt; q</c> (TransformationHelper.h <c>uniform_real</c> and <c>bernoulli</c>). <c>n · 2^-53</c> is exact
/// (n &lt; 2^53) and so is <c>q · 2^53</c>, so the test is <c>n &lt; q · 2^53</c>, and for an integer n that is
/// <c>n &lt; ceil(q · 2^53)</c>: one integer compare against <see cref="Threshold"/>. Each element is then 0 or the
/// dtype's <c>1 / q</c> as torch's own division rounds it (the caller's <c>scaleBits</c>).
/// </summary>
internal static unsafe class BernoulliNoise
{
    /// <summary>Elements per block of engine words: 64 KB of words, in cache, a multiple of every vector width.</summary>
    private const int BlockElements = 1 << 13;

    private const long LowBitsOfHighWord = (1L << 21) - 1;

    /// <summary><c>ceil(q · 2^53)</c>: an element is kept when the low 53 bits of its <c>random64()</c> are below it.</summary>
    public static long Threshold(double keepProbability)
    {
        if (!(keepProbability > 0 && keepProbability < 1))
            throw new ArgumentOutOfRangeException(nameof(keepProbability), keepProbability, "must be in (0, 1)");
        return (long)Math.Ceiling(Math.ScaleB(keepProbability, 53));
    }

    /// <summary>
    /// Fills <paramref name="count"/> float32 elements at <paramref name="noise"/> and advances the generator held in
    /// <paramref name="generatorState"/> as libtorch would; false (nothing written) when the state is not one this engine reads.
    /// </summary>
    public static bool FillSingle(Span<byte> generatorState, double keepProbability, uint scaleBits, float* noise, long count) =>
        Fill(generatorState, keepProbability, count, (words, start, length, threshold) =>
            WriteSingle(words, length, threshold, scaleBits, (uint*)noise + start));

    /// <summary><see cref="FillSingle"/> for bfloat16 (or any two-byte) elements.</summary>
    public static bool FillHalfWidth(Span<byte> generatorState, double keepProbability, ushort scaleBits, ushort* noise, long count) =>
        Fill(generatorState, keepProbability, count, (words, start, length, threshold) =>
            WriteHalfWidth(words, length, threshold, scaleBits, noise + start));

    private delegate void BlockWriter(ulong* words, long start, int length, long threshold);

    // Hot loops: compiled fully optimised on first call rather than after tiering (a short run or a benchmark
    // would otherwise time the unoptimised first tier).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool Fill(Span<byte> generatorState, double keepProbability, long count, BlockWriter write)
    {
        long threshold = Threshold(keepProbability);
        if (Mt19937.Read(generatorState) is not { } engine) return false;
        uint[] buffer = ArrayPool<uint>.Shared.Rent(2 * BlockElements);
        try
        {
            fixed (uint* words = buffer)
            {
                for (long start = 0; start < count; start += BlockElements)
                {
                    int length = (int)Math.Min(BlockElements, count - start);
                    engine.Fill(buffer.AsSpan(0, 2 * length));
                    write((ulong*)words, start, length, threshold);
                }
            }
        }
        finally
        {
            ArrayPool<uint>.Shared.Return(buffer);
        }
        engine.Write(generatorState);
        return true;
    }

    /// <summary>
    /// The 53 low bits of random64() from a little-endian word pair (high word first in memory, so in the low half).
    /// </summary>
    private static long Low53(ulong pair) => (long)(((pair & LowBitsOfHighWord) << 32) | (pair >> 32));

    private static Vector<long> Low53(Vector<ulong> pairs) =>
        Vector.AsVectorInt64(Vector.ShiftLeft(pairs & new Vector<ulong>(LowBitsOfHighWord), 32) | Vector.ShiftRightLogical(pairs, 32));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WriteSingle(ulong* pairs, int length, long threshold, uint scaleBits, uint* output)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            int width = Vector<ulong>.Count;
            var limit = new Vector<long>(threshold);
            var scale = new Vector<uint>(scaleBits);
            for (; i + 2 * width <= length; i += 2 * width)
            {
                // Lanes of -1 (kept) or 0, narrowed to 32 bits, select the scale's bits or +0.
                var kept = Vector.Narrow(Vector.LessThan(Low53(Vector.Load(pairs + i)), limit),
                    Vector.LessThan(Low53(Vector.Load(pairs + i + width)), limit));
                Vector.Store(Vector.AsVectorUInt32(kept) & scale, output + i);
            }
        }
        for (; i < length; i++) output[i] = Low53(pairs[i]) < threshold ? scaleBits : 0u;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WriteHalfWidth(ulong* pairs, int length, long threshold, ushort scaleBits, ushort* output)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            int width = Vector<ulong>.Count;
            var limit = new Vector<long>(threshold);
            var scale = new Vector<ushort>(scaleBits);
            for (; i + 4 * width <= length; i += 4 * width)
            {
                var low = Vector.Narrow(Vector.LessThan(Low53(Vector.Load(pairs + i)), limit),
                    Vector.LessThan(Low53(Vector.Load(pairs + i + width)), limit));
                var high = Vector.Narrow(Vector.LessThan(Low53(Vector.Load(pairs + i + 2 * width)), limit),
                    Vector.LessThan(Low53(Vector.Load(pairs + i + 3 * width)), limit));
                Vector.Store(Vector.AsVectorUInt16(Vector.Narrow(low, high)) & scale, output + i);
            }
        }
        for (; i < length; i++) output[i] = Low53(pairs[i]) < threshold ? scaleBits : (ushort)0;
    }
}
