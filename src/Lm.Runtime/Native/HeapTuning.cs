using System.Runtime.InteropServices;

namespace Lm.Runtime.Native;

/// <summary>
/// Keeps libtorch's large CPU buffers in the process heap on glibc systems. By default glibc serves every
/// allocation over its mmap threshold (at most 32 MB) with a fresh <c>mmap</c> and returns it with <c>munmap</c>
/// on free; a training step allocates and frees tens of such buffers (a batch of 8 × 128 logits over GPT-2's
/// vocabulary is 206 MB), so the kernel zeroes every page again on each step. Measured on the distilgpt2-shaped
/// train step (BENCHMARKS.md): fp32 8.1 s → 4.5 s, bf16 4.0 s → 2.0 s, system time 59 s → 13 s, peak RSS unchanged.
/// Freed blocks are then reused instead of returned to the system, so the resident size stays at the peak of a
/// step rather than falling between steps. This holds for the main arena only: glibc gives other threads
/// secondary arenas (until it has 8 per core, then shares the ones it has, the main one included) whose heaps are
/// at most 64 MB, so larger buffers are mapped there whatever the settings (train on the main thread, as
/// <c>lm-tune</c> does, or set <c>MALLOC_ARENA_MAX=1</c>).
/// </summary>
public static partial class HeapTuning
{
    private const int M_TRIM_THRESHOLD = -1;
    private const int M_MMAP_MAX = -4;

    /// <summary>glibc environment variables that set the same options: a user who sets one keeps glibc's behaviour.</summary>
    internal static readonly string[] UserSettings =
        ["MALLOC_MMAP_MAX_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_"];

    /// <summary>Applies the settings once; returns a line for the load trace.</summary>
    public static string Apply() => Apply(Environment.GetEnvironmentVariable);

    /// <summary>
    /// <see cref="Apply()"/> with the environment read through <paramref name="environment"/>: tests pass their own
    /// instead of setting variables of the whole test process, which classes running in parallel (and the processes
    /// they start) would see.
    /// </summary>
    internal static string Apply(Func<string, string?> environment)
    {
        if (!OperatingSystem.IsLinux()) return "heap: not Linux, allocator left as is";
        string? userSetting = UserSettings.FirstOrDefault(v => environment(v) is not null);
        if (userSetting is not null) return $"heap: {userSetting} is set, glibc allocator left as configured";
        try
        {
            bool ok = mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, int.MaxValue) == 1;
            return ok
                ? "heap: large buffers kept in the heap (glibc mmap off, trim threshold 2 GB)"
                : "heap: glibc refused the allocator settings, left as is";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return "heap: not glibc (no mallopt), allocator left as is";
        }
    }

    /// <summary>
    /// Whether a 64 MB buffer allocated on the calling thread comes from the heap rather than from a fresh mapping;
    /// null where this cannot be told (not glibc on 64-bit Linux). Reads the allocation's own chunk header (glibc
    /// keeps the chunk size, with its IS_MMAPPED bit 0x2, in the 8 bytes before the pointer), so other threads
    /// allocating at the same time do not change the answer.
    /// </summary>
    public static unsafe bool? LargeBuffersComeFromHeap()
    {
        if (!OperatingSystem.IsLinux() || IntPtr.Size != 8 || Environment.GetEnvironmentVariable("LD_PRELOAD") is { Length: > 0 })
            return null;
        try
        {
            gnu_get_libc_version();
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
        void* buffer = NativeMemory.Alloc(64 << 20);
        try
        {
            ulong chunkSize = *((ulong*)buffer - 1);
            return (chunkSize & 0x2) == 0;
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
    }

    [LibraryImport("libc", EntryPoint = "gnu_get_libc_version")]
    private static partial IntPtr gnu_get_libc_version();

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int mallopt(int parameter, int value);
}
