using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Lm.Runtime.Errors;
using static TorchSharp.torch;

namespace Lm.Runtime.Checkpoints;

/// <summary>
/// Writes safetensors files byte for byte as the reference implementation (and so HF's <c>save_pretrained</c>)
/// does: tensors ordered by dtype alignment (largest first) then by name, a compact JSON header beginning with
/// <c>__metadata__</c>, padded with spaces to a multiple of 8 bytes, then the data. The file is written under a
/// temporary name and renamed, so a reader never sees half a file.
/// </summary>
public static class SafeTensorsWriter
{
    /// <summary>The metadata HF's PyTorch models write.</summary>
    public static IReadOnlyDictionary<string, string> PyTorchMetadata { get; } =
        new Dictionary<string, string> { ["format"] = "pt" };

    /// <summary>
    /// Writes <paramref name="tensors"/> (any device; each name once) to <paramref name="path"/> with
    /// <paramref name="metadata"/> (default <c>{"format":"pt"}</c>; pass an empty dictionary for none).
    /// </summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors data is little-endian; this machine is not.");
        metadata ??= PyTorchMetadata;
        var ordered = tensors
            .Select(t => (t.Key, t.Value, Dtype: SafeTensorsDtypes.FromScalarType(t.Value.dtype)))
            .OrderByDescending(t => SafeTensorsDtypes.AlignmentRank(t.Dtype))
            .ThenBy(t => t.Key, Utf8Order.Instance)
            .ToList();
        var duplicate = ordered.GroupBy(t => t.Key).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"Tensor name '{duplicate.Key}' appears twice.", nameof(tensors));

        byte[] header = BuildHeader(ordered.Select(t => (t.Key, t.Dtype, t.Value.shape, t.Value.numel() * t.Value.element_size())), metadata);
        string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        string temporary = Path.Combine(folder, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                Span<byte> length = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
                stream.Write(length);
                stream.Write(header);
                foreach (var (_, tensor, _) in ordered)
                {
                    using var cpu = tensor.detach().cpu().contiguous();
                    TensorBytes.ForEachChunk(cpu, bytes => stream.Write(bytes));
                }
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        catch (IOException e)
        {
            TryDelete(temporary);
            throw new LmException(ErrorCodes.CheckpointWriteFailed, $"Cannot write {path}: {e.Message}", e) { File = path };
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    /// <summary>The header bytes (JSON padded with spaces to a multiple of 8) for tensors already in file order.</summary>
    internal static byte[] BuildHeader(IEnumerable<(string Name, string Dtype, long[] Shape, long Bytes)> tensors,
        IReadOnlyDictionary<string, string> metadata)
    {
        var json = new StringBuilder("{");
        bool first = true;
        if (metadata.Count > 0)
        {
            json.Append("\"__metadata__\":{");
            json.AppendJoin(',', metadata.OrderBy(m => m.Key, Utf8Order.Instance)
                .Select(m => Quote(m.Key) + ":" + Quote(m.Value)));
            json.Append('}');
            first = false;
        }
        long offset = 0;
        foreach (var (name, dtype, shape, bytes) in tensors)
        {
            if (!first) json.Append(',');
            first = false;
            json.Append(Quote(name)).Append(":{\"dtype\":").Append(Quote(dtype)).Append(",\"shape\":[")
                .AppendJoin(',', shape.Select(d => d.ToString(CultureInfo.InvariantCulture)))
                .Append("],\"data_offsets\":[").Append(offset.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append((offset + bytes).ToString(CultureInfo.InvariantCulture)).Append("]}");
            offset += bytes;
        }
        json.Append('}');
        byte[] utf8 = Encoding.UTF8.GetBytes(json.ToString());
        int padding = (8 - utf8.Length % 8) % 8;
        var padded = new byte[utf8.Length + padding];
        utf8.CopyTo(padded, 0);
        padded.AsSpan(utf8.Length).Fill((byte)' ');
        return padded;
    }

    /// <summary>A JSON string as serde_json writes it: short escapes, other controls as \u00XX, non-ASCII as UTF-8.</summary>
    private static string Quote(string value)
    {
        var text = new StringBuilder(value.Length + 2);
        PythonJson.AppendQuoted(text, value, escapeNonAscii: false);
        return text.ToString();
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: the temporary file is named so it can never be mistaken for a checkpoint.
        }
    }

    /// <summary>Orders strings by their UTF-8 bytes, as Rust's <c>String</c> ordering does.</summary>
    private sealed class Utf8Order : IComparer<string>
    {
        public static readonly Utf8Order Instance = new();

        public int Compare(string? x, string? y) =>
            Encoding.UTF8.GetBytes(x ?? "").AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(y ?? ""));
    }
}
