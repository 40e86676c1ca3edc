using static TorchSharp.torch;

namespace Lm.Runtime.Checkpoints;

/// <summary>
/// The raw bytes of contiguous CPU tensors, in chunks below 2 GB (a <see cref="Span{T}"/> cannot be larger), so
/// that files are read into and written from tensor memory without an intermediate managed copy.
/// </summary>
internal static class TensorBytes
{
    private const long ChunkBytes = 1L << 28;

    public delegate void SpanAction(Span<byte> bytes);

    /// <summary>Hands the tensor's memory to <paramref name="action"/> chunk by chunk, in order, to fill or to copy out.</summary>
    public static void ForEachChunk(Tensor tensor, SpanAction action)
    {
        if (tensor.device_type != TorchSharp.DeviceType.CPU || !tensor.is_contiguous())
            throw new ArgumentException("TensorBytes needs a contiguous CPU tensor.", nameof(tensor));
        long count = tensor.numel();
        if (count == 0) return;
        using var flat = tensor.view(-1);
        long elementSize = tensor.element_size();
        long perChunk = Math.Max(1, ChunkBytes / elementSize);
        for (long start = 0; start < count; start += perChunk)
        {
            using var chunk = flat.narrow(0, start, Math.Min(perChunk, count - start));
            action(chunk.bytes);
        }
    }
}
