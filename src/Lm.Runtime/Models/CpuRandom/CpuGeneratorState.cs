using System.Buffers.Binary;

namespace Lm.Runtime.Models.CpuRandom;

/// <summary>
/// The bytes of libtorch's <c>CPUGeneratorImplState</c> (aten/src/ATen/CPUGeneratorImpl.cpp), what
/// <c>get_rng_state</c> returns and <c>set_rng_state</c> takes: the legacy POD <c>{ u64 the_initial_seed; int left;
/// int seeded; u64 next; u64 state[624]; double normal_x, normal_y, normal_rho; int normal_is_valid; }</c> (5,048
/// bytes with its tail padding) followed by <c>float next_float_normal_sample; bool
/// is_next_float_normal_sample_valid;</c>, 5,056 bytes on x64. Only the engine's fields are read or written here; the
/// seed and the cached normal samples pass through untouched, as set_state would restore them.
/// </summary>
internal static class CpuGeneratorState
{
    private const int LeftOffset = 8;
    private const int SeededOffset = 12;
    private const int NextOffset = 16;

    /// <summary>Where <c>state[624]</c> starts.</summary>
    public const int StateOffset = 24;

    /// <summary>Whether the bytes are long enough to hold the engine (the normal caches after it are not read).</summary>
    public static bool HasLayout(ReadOnlySpan<byte> bytes) => bytes.Length >= StateOffset + Mt19937.StateWords * sizeof(ulong);

    public static int Left(ReadOnlySpan<byte> bytes) => BinaryPrimitives.ReadInt32LittleEndian(bytes.Slice(LeftOffset));

    public static int Seeded(ReadOnlySpan<byte> bytes) => BinaryPrimitives.ReadInt32LittleEndian(bytes.Slice(SeededOffset));

    public static ulong Next(ReadOnlySpan<byte> bytes) => BinaryPrimitives.ReadUInt64LittleEndian(bytes.Slice(NextOffset));

    public static void SetLeft(Span<byte> bytes, int left) => BinaryPrimitives.WriteInt32LittleEndian(bytes.Slice(LeftOffset), left);

    public static void SetNext(Span<byte> bytes, ulong next) => BinaryPrimitives.WriteUInt64LittleEndian(bytes.Slice(NextOffset), next);
}
