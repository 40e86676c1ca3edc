using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Native;

/// <summary>
/// Where lm-tune's own CPU loops find a tensor's elements. TorchSharp has no bfloat16 storage, but its byte span of a
/// contiguous tensor is a view of libtorch's memory (from the tensor's offset on), which native memory lets us
/// address without pinning. The span's length is an int, so a tensor of more than <see cref="MaxBytes"/> bytes is left
/// to torch's own ops (TorchSharp would throw).
/// </summary>
internal static unsafe class TensorMemory
{
    /// <summary>The most bytes a tensor may have for its memory to be reached through the byte span.</summary>
    internal const long MaxBytes = int.MaxValue;

    /// <summary>Whether <paramref name="tensor"/> is on the CPU, contiguous and at most <see cref="MaxBytes"/> bytes.</summary>
    public static bool Addressable(Tensor tensor) =>
        tensor.device_type == DeviceType.CPU && tensor.is_contiguous() && tensor.numel() * tensor.element_size() <= MaxBytes;

    /// <summary>The first element of an <see cref="Addressable"/> tensor.</summary>
    public static void* FirstElement(Tensor tensor) => Unsafe.AsPointer(ref MemoryMarshal.GetReference(tensor.bytes));
}
