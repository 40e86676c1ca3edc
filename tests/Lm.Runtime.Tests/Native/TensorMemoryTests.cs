using Lm.Runtime.Native;
using Lm.Runtime.Training;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Native;

public class TensorMemoryTests
{
    [Fact]
    public void A_tensor_over_2_GiB_is_left_to_torchs_ops()
    {
        // empty() reserves the memory without touching it: cheap even at this size. TorchSharp's byte span of it
        // would throw, so the CPU loops that reach memory through the span must not take it.
        using var large = empty((TensorMemory.MaxBytes / 2) + 1, dtype: ScalarType.BFloat16);
        Assert.False(TensorMemory.Addressable(large));
        Assert.False(BFloat16GradientNorm.Applies(large));
        using var small = empty(TensorMemory.MaxBytes / 2, dtype: ScalarType.BFloat16);
        Assert.True(TensorMemory.Addressable(small));
    }

    [Fact]
    public void Only_contiguous_tensors_are_addressable()
    {
        using var matrix = ones(3, 5);
        using var transposed = matrix.t();
        Assert.True(TensorMemory.Addressable(matrix));
        Assert.False(TensorMemory.Addressable(transposed));
    }
}
