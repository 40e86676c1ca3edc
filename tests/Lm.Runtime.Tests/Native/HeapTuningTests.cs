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
    public void On_a_secondary_thread_a_64_MB_buffer_is_still_mapped()
    {
        // Why lm-tune runs its commands on the main thread: glibc's secondary arenas cannot hold such a buffer.
        TorchRuntime.EnsureLoaded();
        bool? fromHeap = null;
        var thread = new Thread(() => fromHeap = HeapTuning.LargeBuffersComeFromHeap());
        thread.Start();
        thread.Join();
        Assert.False(fromHeap);
    }

    [Fact]
    public void A_user_malloc_setting_leaves_glibc_as_configured()
    {
        Environment.SetEnvironmentVariable("MALLOC_TOP_PAD_", "1048576");
        try
        {
            Assert.Equal("heap: MALLOC_TOP_PAD_ is set, glibc allocator left as configured", HeapTuning.Apply());
        }
        finally
        {
            Environment.SetEnvironmentVariable("MALLOC_TOP_PAD_", null);
        }
        Assert.StartsWith("heap: large buffers kept in the heap", HeapTuning.Apply());
    }
}
