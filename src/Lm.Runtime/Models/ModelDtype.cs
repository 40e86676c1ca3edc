using Lm.Runtime.Errors;
using static TorchSharp.torch;

namespace Lm.Runtime.Models;

/// <summary>
/// Model dtypes: <c>float32</c> (also <c>fp32</c>) and <c>bfloat16</c> (also <c>bf16</c>); <c>auto</c> takes the
/// config's <c>torch_dtype</c> when it is one of those and float32 otherwise, as <c>torch_dtype="auto"</c> would
/// on a CPU.
/// </summary>
public static class ModelDtype
{
    /// <summary>Resolves a dtype name against an optional config; throws LM0114 for other types.</summary>
    public static ScalarType Parse(string? name, ModelConfig? config = null)
    {
        string value = (name ?? "float32").Trim().ToLowerInvariant();
        return value switch
        {
            "float32" or "fp32" or "float" => ScalarType.Float32,
            "bfloat16" or "bf16" => ScalarType.BFloat16,
            "auto" => config?.TorchDtype is "bfloat16" ? ScalarType.BFloat16 : ScalarType.Float32,
            _ => throw new LmException(ErrorCodes.UnsupportedModelDtype, $"Model dtype '{name}' is not supported; use float32, bfloat16 or auto."),
        };
    }

    /// <summary>HF's <c>torch_dtype</c> string for a dtype (<c>float32</c>, <c>bfloat16</c>, <c>float16</c>).</summary>
    public static string ToHfName(ScalarType type) => type switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        ScalarType.Float64 => "float64",
        _ => throw new ArgumentException($"{type} is not a model dtype.", nameof(type)),
    };
}
