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
        // The variable is seen through Apply's environment, never set in this process: test classes run in parallel,
        // and the processes they start would inherit it.
        var user = new Dictionary<string, string?> { ["MALLOC_TOP_PAD_"] = "1048576" };
        Assert.Equal("heap: MALLOC_TOP_PAD_ is set, glibc allocator left as configured", HeapTuning.Apply(name => user.GetValueOrDefault(name)));
        Assert.StartsWith("heap: large buffers kept in the heap", HeapTuning.Apply(_ => null));
    }
}
