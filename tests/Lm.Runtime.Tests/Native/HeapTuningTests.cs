using Lm.Runtime.Native;

namespace Lm.Runtime.Tests.Native;

public class HeapTuningTests
{
    [Fact]
    public void Loading_keeps_large_buffers_in_the_heap_and_says_so()
    {
        TorchRuntime.EnsureLoaded();
        Assert.Contains(TorchRuntime.LoadTrace, l => l.StartsWith("heap: large buffers kept in the heap", StringComparison.Ordinal));
    }

    [Fact]
    public void A_user_malloc_setting_leaves_glibc_as_configured()
    {
        if (!OperatingSystem.IsLinux()) return;
        var userSet = NativePlatform.Current with { Environment = name => name == "MALLOC_TOP_PAD_" ? "1048576" : null };
        Assert.Equal("heap: MALLOC_TOP_PAD_ is set, glibc allocator left as configured", HeapTuning.Apply(userSet));
        Assert.StartsWith("heap: large buffers kept in the heap", HeapTuning.Apply(NativePlatform.Current with { Environment = _ => null }));
    }
}
