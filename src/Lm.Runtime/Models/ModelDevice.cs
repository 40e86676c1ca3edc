using Lm.Runtime.Errors;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Models;

/// <summary>
/// Device names as the CLI and MSBuild accept them: <c>cpu</c>, <c>cuda</c> (device 0), <c>cuda:N</c>, and
/// <c>auto</c> (CUDA when <c>torch.cuda.is_available()</c>, else CPU). CUDA needs the CUDA build of the tool
/// (<c>-p:LmTorchBackend=cuda</c>).
/// </summary>
public static class ModelDevice
{
    /// <summary>The names <see cref="Parse"/> accepts (besides <c>cuda:N</c>).</summary>
    public static IReadOnlyList<string> Names { get; } = ["cpu", "cuda", "auto"];

    /// <summary>Resolves a device name; throws LM0113 for unknown names or when CUDA is asked for and absent.</summary>
    public static Device Parse(string? name)
    {
        string value = (name ?? "auto").Trim().ToLowerInvariant();
        if (value == "cpu") return CPU;
        if (value == "auto") return cuda.is_available() ? CUDA : CPU;
        if (value == "cuda" || value.StartsWith("cuda:", StringComparison.Ordinal))
        {
            int index = 0;
            if (value.Length > 4 && (!int.TryParse(value.AsSpan(5), out index) || index < 0))
                throw new LmException(ErrorCodes.InvalidDevice, $"Device '{name}' is not valid; use cpu, cuda, cuda:N or auto.");
            if (!cuda.is_available())
                throw new LmException(ErrorCodes.InvalidDevice,
                    $"Device '{name}' was asked for but CUDA is not available (no GPU, or this build uses the CPU libtorch; build the tool with -p:LmTorchBackend=cuda). Use --device cpu or auto.");
            if (index >= cuda.device_count())
                throw new LmException(ErrorCodes.InvalidDevice, $"Device '{name}' does not exist: {cuda.device_count()} CUDA device(s) found.");
            return new Device(DeviceType.CUDA, index);
        }
        throw new LmException(ErrorCodes.InvalidDevice, $"Device '{name}' is not valid; use cpu, cuda, cuda:N or auto.");
    }
}
