using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Lm.Runtime.Models.CpuRandom;

/// <summary>
/// libtorch's own Mersenne Twister (<c>at::mt19937_engine</c>, aten/src/ATen/core/MT19937RNGEngine.h), the engine of
/// the CPU generator, read from and written back to the generator's state bytes. Words come out exactly as
/// repeated calls of its <c>operator()</c> would give them (decrement <c>left_</c>, regenerate all 624 words when it
/// reaches 0, temper <c>state_[next_++]</c>), but a block at a time: the regeneration and the tempering run on
/// vectors, which is where a serial draw spends its time.
/// </summary>
internal sealed unsafe class Mt19937
{
    internal const int StateWords = 624;
    private const int Shift = 397;
    private const uint MatrixA = 0x9908b0df;
    private const uint UpperMask = 0x80000000;
    private const uint LowerMask = 0x7fffffff;

    private readonly uint[] _state = new uint[StateWords];
    private int _left;
    private int _next;

    private Mt19937()
    {
    }

    /// <summary>
    /// The engine held in a <c>CPUGeneratorImplState</c> (<see cref="CpuGeneratorState"/>), or null when the state
    /// is not one libtorch's engine would read within its array (a valid engine always has
    /// <c>next_ + left_ - 1 ≤ 624</c>).
    /// </summary>
    public static Mt19937? Read(ReadOnlySpan<byte> generatorState)
    {
        if (!CpuGeneratorState.HasLayout(generatorState)) return null;
        int left = CpuGeneratorState.Left(generatorState);
        ulong next = CpuGeneratorState.Next(generatorState);
        if (CpuGeneratorState.Seeded(generatorState) == 0 || left < 1 || left > StateWords || next > StateWords
            || (long)next + left - 1 > StateWords)
            return null;
        var engine = new Mt19937 { _left = left, _next = (int)next };
        var words = generatorState.Slice(CpuGeneratorState.StateOffset, StateWords * sizeof(ulong));
        // The legacy state keeps each 32-bit word in a 64-bit slot; libtorch's set_state narrows them the same way.
        for (int i = 0; i < StateWords; i++)
            engine._state[i] = (uint)BinaryPrimitives.ReadUInt64LittleEndian(words.Slice(i * sizeof(ulong)));
        return engine;
    }

    /// <summary>Writes <c>left</c>, <c>next</c> and the 624 words back, as libtorch's <c>get_state</c> lays them out; the rest is kept.</summary>
    public void Write(Span<byte> generatorState)
    {
        CpuGeneratorState.SetLeft(generatorState, _left);
        CpuGeneratorState.SetNext(generatorState, (ulong)_next);
        var words = generatorState.Slice(CpuGeneratorState.StateOffset, StateWords * sizeof(ulong));
        for (int i = 0; i < StateWords; i++)
            BinaryPrimitives.WriteUInt64LittleEndian(words.Slice(i * sizeof(ulong)), _state[i]);
    }

    /// <summary>The next <paramref name="destination"/>.Length words, in the order <c>operator()</c> returns them.</summary>
    // Hot loops: compiled fully optimised on first call rather than after tiering (a short run or a benchmark
    // would otherwise time the unoptimised first tier).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Fill(Span<uint> destination)
    {
        fixed (uint* state = _state)
        fixed (uint* output = destination)
        {
            int written = 0;
            while (written < destination.Length)
            {
                // operator() regenerates on the call that takes left_ to 0, so left_ - 1 words remain before it.
                int available = _left - 1;
                if (available == 0)
                {
                    Regenerate(state);
                    // After the regenerating call left_ is 624 with one word taken: 625 before any is taken.
                    _left = StateWords + 1;
                    _next = 0;
                    continue;
                }
                int count = Math.Min(available, destination.Length - written);
                Temper(state + _next, output + written, count);
                _next += count;
                _left -= count;
                written += count;
            }
        }
    }

    /// <summary>
    /// <c>next_state()</c>: word i becomes <c>state[i + 397 mod 624] ^ twist(state[i], state[i + 1])</c>. The first 227
    /// words read words not yet rewritten 397 ahead and the rest read words rewritten 227 behind, so any vector of at
    /// most 227 lanes sees what the serial loop sees.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Regenerate(uint* p)
    {
        const int firstPart = StateWords - Shift;
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            int width = Vector<uint>.Count;
            for (; i + width <= firstPart; i += width)
                Vector.Store(Vector.Load(p + i + Shift) ^ Twist(Vector.Load(p + i), Vector.Load(p + i + 1)), p + i);
        }
        for (; i < firstPart; i++) p[i] = p[i + Shift] ^ Twist(p[i], p[i + 1]);
        if (Vector.IsHardwareAccelerated)
        {
            int width = Vector<uint>.Count;
            for (; i + width <= StateWords - 1; i += width)
                Vector.Store(Vector.Load(p + i - firstPart) ^ Twist(Vector.Load(p + i), Vector.Load(p + i + 1)), p + i);
        }
        for (; i < StateWords - 1; i++) p[i] = p[i - firstPart] ^ Twist(p[i], p[i + 1]);
        p[StateWords - 1] = p[Shift - 1] ^ Twist(p[StateWords - 1], p[0]);
    }

    private static uint Twist(uint u, uint v) => (((u & UpperMask) | (v & LowerMask)) >> 1) ^ ((v & 1) != 0 ? MatrixA : 0);

    private static Vector<uint> Twist(Vector<uint> u, Vector<uint> v) =>
        Vector.ShiftRightLogical((u & new Vector<uint>(UpperMask)) | (v & new Vector<uint>(LowerMask)), 1)
        ^ ((Vector<uint>.Zero - (v & Vector<uint>.One)) & new Vector<uint>(MatrixA));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Temper(uint* source, uint* destination, int count)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            int width = Vector<uint>.Count;
            var b = new Vector<uint>(0x9d2c5680);
            var c = new Vector<uint>(0xefc60000);
            for (; i + width <= count; i += width)
            {
                var y = Vector.Load(source + i);
                y ^= Vector.ShiftRightLogical(y, 11);
                y ^= Vector.ShiftLeft(y, 7) & b;
                y ^= Vector.ShiftLeft(y, 15) & c;
                y ^= Vector.ShiftRightLogical(y, 18);
                Vector.Store(y, destination + i);
            }
        }
        for (; i < count; i++)
        {
            uint y = source[i];
            y ^= y >> 11;
            y ^= (y << 7) & 0x9d2c5680;
            y ^= (y << 15) & 0xefc60000;
            y ^= y >> 18;
            destination[i] = y;
        }
    }
}
