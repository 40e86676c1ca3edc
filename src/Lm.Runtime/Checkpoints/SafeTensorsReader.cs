using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Lm.Runtime.Errors;
using static TorchSharp.torch;

namespace Lm.Runtime.Checkpoints;

/// <summary>
/// Reads safetensors files (8-byte little-endian header length, a JSON header, then the tensors' bytes) and checks
/// them the way the reference implementation does before trusting a single offset: the header must fit in the file
/// and be at most 100 MB of UTF-8 JSON, every tensor's offsets must tile the data section exactly, in order, with no
/// gap or overlap, and each byte length must equal element count × dtype size without overflow. A hostile file fails
/// with an LM01xx error before any tensor is allocated.
/// </summary>
public static class SafeTensorsReader
{
    /// <summary>The reference implementation's limit on header size.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>Reads and validates the header of <paramref name="path"/>.</summary>
    public static SafeTensorsHeader ReadHeader(string path)
    {
        using var stream = Open(path);
        return ReadHeader(stream, path);
    }

    /// <summary>
    /// Reads every tensor (or those <paramref name="include"/> accepts) into CPU tensors of the file's dtypes.
    /// The caller owns the returned tensors.
    /// </summary>
    public static Dictionary<string, Tensor> Read(string path, Func<string, bool>? include = null)
    {
        using var stream = Open(path);
        var header = ReadHeader(stream, path);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var info in header.Tensors)
            {
                if (include is not null && !include(info.Name)) continue;
                result[info.Name] = ReadTensor(stream, header, info, path);
            }
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
        return result;
    }

    /// <summary>Reads one tensor described by <paramref name="info"/> from an open file.</summary>
    public static Tensor ReadTensor(Stream stream, SafeTensorsHeader header, SafeTensorInfo info, string path)
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors data is little-endian; this machine is not.");
        var tensor = empty(info.Shape, dtype: info.ScalarType);
        try
        {
            stream.Position = header.DataStart + info.Begin;
            TensorBytes.ForEachChunk(tensor, span =>
            {
                int read = stream.ReadAtLeast(span, span.Length, throwOnEndOfStream: false);
                if (read != span.Length)
                    throw new LmException(ErrorCodes.SafeTensorsBadOffsets,
                        $"{path}: the data of '{info.Name}' ends early; the file is truncated.") { File = path };
            });
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    private static FileStream Open(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LmException(ErrorCodes.ModelFolderUnreadable, $"Cannot read {path}: {e.Message}", e) { File = path };
        }
    }

    /// <summary>Reads and validates the header at the start of <paramref name="stream"/>, a whole safetensors file.</summary>
    internal static SafeTensorsHeader ReadHeader(Stream stream, string path)
    {
        long fileLength = stream.Length;
        if (fileLength < 8) throw Header(path, $"the file has {fileLength} bytes, fewer than the 8 of the header length");
        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        ulong declared = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (declared > MaxHeaderBytes)
            throw Header(path, $"the header claims {declared} bytes; more than the {MaxHeaderBytes} allowed");
        if ((long)declared > fileLength - 8)
            throw Header(path, $"the header claims {declared} bytes but only {fileLength - 8} follow the length field");
        if (declared < 2) throw Header(path, $"the header has {declared} bytes, too few for a JSON object");

        var headerBytes = new byte[declared];
        stream.ReadExactly(headerBytes);
        long dataStart = 8 + (long)declared;
        var header = ParseHeader(headerBytes, dataStart, path);
        long dataEnd = header.Tensors.Count == 0 ? 0 : header.Tensors[^1].End;
        if (dataStart + dataEnd != fileLength)
            throw new LmException(ErrorCodes.SafeTensorsBadOffsets,
                $"{path}: the tensors' offsets cover {dataEnd} data bytes but the file holds {fileLength - dataStart}.") { File = path };
        return header;
    }

    private static SafeTensorsHeader ParseHeader(byte[] bytes, long dataStart, string path)
    {
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw Header(path, "the header is not valid UTF-8");
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException e)
        {
            throw Header(path, $"the header is not valid JSON ({e.Message})");
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object) throw Header(path, "the header is not a JSON object");
            var tensors = new List<SafeTensorInfo>();
            Dictionary<string, string>? metadata = null;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            try
            {
                foreach (var property in document.RootElement.EnumerateObject())
                {
                    if (!seen.Add(property.Name)) throw Header(path, $"the header names '{property.Name}' twice");
                    if (property.Name == "__metadata__") metadata = ParseMetadata(property.Value, path);
                    else tensors.Add(ParseTensor(property.Name, property.Value, path));
                }
            }
            catch (InvalidOperationException)
            {
                // A name or string with a "\ud800" escape and no low surrogate: valid JSON, but no .NET string
                // (the reference implementation rejects it too).
                throw Header(path, "the header holds an unpaired UTF-16 surrogate escape");
            }
            CheckTiling(tensors, path);
            return new SafeTensorsHeader(dataStart, tensors, metadata);
        }
    }

    private static Dictionary<string, string> ParseMetadata(JsonElement element, string path)
    {
        if (element.ValueKind != JsonValueKind.Object) throw Header(path, "__metadata__ is not an object");
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in element.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String)
                throw Header(path, $"__metadata__ value '{entry.Name}' is not a string");
            metadata[entry.Name] = entry.Value.GetString()!;
        }
        return metadata;
    }

    private static SafeTensorInfo ParseTensor(string name, JsonElement element, string path)
    {
        if (element.ValueKind != JsonValueKind.Object) throw Header(path, $"the entry of '{name}' is not an object");
        if (!element.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw Header(path, $"'{name}' has no dtype string");
        if (!element.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
            throw Header(path, $"'{name}' has no shape array");
        if (!element.TryGetProperty("data_offsets", out var offsetsElement) || offsetsElement.ValueKind != JsonValueKind.Array
            || offsetsElement.GetArrayLength() != 2)
            throw Header(path, $"'{name}' has no data_offsets pair");

        string dtype = dtypeElement.GetString()!;
        if (!SafeTensorsDtypes.IsSupported(dtype))
            throw new LmException(ErrorCodes.SafeTensorsUnsupportedDtype,
                $"{path}: tensor '{name}' has dtype '{dtype}'; lm-tune reads F32, F16, BF16, F64, I64, I32, I16, I8, U8 and BOOL.")
            { File = path };

        var shape = new long[shapeElement.GetArrayLength()];
        int i = 0;
        long elements = 1;
        foreach (var dim in shapeElement.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out long size) || size < 0)
                throw new LmException(ErrorCodes.SafeTensorsBadShape,
                    $"{path}: tensor '{name}' has a shape entry that is not a non-negative 64-bit integer ({dim.GetRawText()}).") { File = path };
            shape[i++] = size;
            try
            {
                elements = checked(elements * size);
            }
            catch (OverflowException)
            {
                throw AbsurdShape(path, name, shapeElement);
            }
        }
        long expectedBytes;
        try
        {
            expectedBytes = checked(elements * SafeTensorsDtypes.ElementSize(dtype));
        }
        catch (OverflowException)
        {
            throw AbsurdShape(path, name, shapeElement);
        }

        var offsets = new long[2];
        i = 0;
        foreach (var offset in offsetsElement.EnumerateArray())
        {
            if (offset.ValueKind != JsonValueKind.Number || !offset.TryGetInt64(out long value) || value < 0)
                throw new LmException(ErrorCodes.SafeTensorsBadOffsets,
                    $"{path}: tensor '{name}' has a data offset out of range ({offset.GetRawText()}).") { File = path };
            offsets[i++] = value;
        }
        if (offsets[1] < offsets[0])
            throw new LmException(ErrorCodes.SafeTensorsBadOffsets,
                $"{path}: tensor '{name}' ends (offset {offsets[1]}) before it begins ({offsets[0]}).") { File = path };
        if (offsets[1] - offsets[0] != expectedBytes)
            throw new LmException(ErrorCodes.SafeTensorsBadShape,
                $"{path}: tensor '{name}' has {offsets[1] - offsets[0]} data bytes but shape [{string.Join(", ", shape)}] of {dtype} needs {expectedBytes}.")
            { File = path };
        return new SafeTensorInfo(name, dtype, shape, offsets[0], offsets[1]);
    }

    /// <summary>Sorts by offset and requires the tensors to follow each other from 0 with no gap or overlap.</summary>
    private static void CheckTiling(List<SafeTensorInfo> tensors, string path)
    {
        tensors.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long expectedBegin = 0;
        foreach (var t in tensors)
        {
            if (t.Begin != expectedBegin)
                throw new LmException(ErrorCodes.SafeTensorsBadOffsets, t.Begin < expectedBegin
                    ? $"{path}: tensor '{t.Name}' (bytes {t.Begin}..{t.End}) overlaps the tensor before it, which ends at {expectedBegin}."
                    : $"{path}: tensor '{t.Name}' begins at {t.Begin}, leaving a gap after byte {expectedBegin}.") { File = path };
            expectedBegin = t.End;
        }
    }

    private static LmException AbsurdShape(string path, string name, JsonElement shape) =>
        new(ErrorCodes.SafeTensorsBadShape,
            $"{path}: tensor '{name}' has shape {shape.GetRawText()}, whose size overflows 64 bits.") { File = path };

    private static LmException Header(string path, string problem) =>
        new(ErrorCodes.SafeTensorsBadHeader, $"{path} is not a valid safetensors file: {problem}.") { File = path };
}
