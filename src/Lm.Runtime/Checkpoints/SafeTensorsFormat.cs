using static TorchSharp.torch;

namespace Lm.Runtime.Checkpoints;

/// <summary>One tensor's entry in a safetensors header; offsets are relative to the first data byte.</summary>
/// <param name="Name">The tensor's name (HF state_dict name).</param>
/// <param name="Dtype">The safetensors dtype code (<c>F32</c>, <c>BF16</c>, …).</param>
/// <param name="Shape">Dimensions; empty for a scalar.</param>
/// <param name="Begin">Offset of the first byte.</param>
/// <param name="End">Offset one past the last byte.</param>
public sealed record SafeTensorInfo(string Name, string Dtype, long[] Shape, long Begin, long End)
{
    /// <summary>The torch dtype of <see cref="Dtype"/>.</summary>
    public ScalarType ScalarType => SafeTensorsDtypes.ToScalarType(Dtype);

    /// <summary>Number of elements.</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>Number of data bytes.</summary>
    public long ByteCount => End - Begin;
}

/// <summary>A validated safetensors header: where the data starts, the tensors in file order, and <c>__metadata__</c>.</summary>
public sealed record SafeTensorsHeader(long DataStart, IReadOnlyList<SafeTensorInfo> Tensors, IReadOnlyDictionary<string, string>? Metadata)
{
    /// <summary>The entry named <paramref name="name"/>, or null.</summary>
    public SafeTensorInfo? Find(string name) => Tensors.FirstOrDefault(t => t.Name == name);
}

/// <summary>The safetensors dtype codes lm-tune reads and writes, with their torch types, sizes and file order.</summary>
public static class SafeTensorsDtypes
{
    // Codes in the order of the safetensors Dtype enum (increasing alignment); writers sort by it descending.
    private static readonly (string Code, ScalarType Type, int Size)[] Known =
    [
        ("BOOL", ScalarType.Bool, 1),
        ("U8", ScalarType.Byte, 1),
        ("I8", ScalarType.Int8, 1),
        ("I16", ScalarType.Int16, 2),
        ("F16", ScalarType.Float16, 2),
        ("BF16", ScalarType.BFloat16, 2),
        ("I32", ScalarType.Int32, 4),
        ("F32", ScalarType.Float32, 4),
        ("F64", ScalarType.Float64, 8),
        ("I64", ScalarType.Int64, 8),
    ];

    /// <summary>True when lm-tune can read tensors of this code.</summary>
    public static bool IsSupported(string code) => Known.Any(k => k.Code == code);

    /// <summary>The torch dtype of a supported code.</summary>
    public static ScalarType ToScalarType(string code) => Lookup(code).Type;

    /// <summary>Bytes per element of a supported code.</summary>
    public static int ElementSize(string code) => Lookup(code).Size;

    /// <summary>The code for a torch dtype; throws <see cref="ArgumentException"/> for types safetensors cannot hold here.</summary>
    public static string FromScalarType(ScalarType type)
    {
        foreach (var k in Known)
            if (k.Type == type) return k.Code;
        throw new ArgumentException($"Tensors of type {type} cannot be written to safetensors by lm-tune.", nameof(type));
    }

    /// <summary>The code's position in the safetensors Dtype enum; the writer puts larger ones first.</summary>
    internal static int AlignmentRank(string code) => Array.FindIndex(Known, k => k.Code == code);

    private static (string Code, ScalarType Type, int Size) Lookup(string code)
    {
        foreach (var k in Known)
            if (k.Code == code) return k;
        throw new ArgumentException($"safetensors dtype '{code}' is not supported.", nameof(code));
    }
}
