using System.Runtime.InteropServices;

namespace Lm.Runtime.Tests;

/// <summary>
/// Native heap in use, from glibc's <c>mallinfo2</c> (all arenas), which libtorch's CPU allocator draws from: a
/// count of live bytes that does not depend on timing or on what the kernel has paged in, unlike RSS.
/// </summary>
internal static class NativeMemory
{
    [StructLayout(LayoutKind.Sequential)]
    private struct MallInfo2
    {
        public nuint Arena, Ordblks, Smblks, Hblks, Hblkhd, Usmblks, Fsmblks, Uordblks, Fordblks, Keepcost;
    }

    [DllImport("libc", EntryPoint = "mallinfo2")]
    private static extern MallInfo2 Mallinfo2();

    /// <summary>Bytes handed out by malloc and not yet freed: arena chunks in use plus mmapped chunks.</summary>
    public static long BytesInUse()
    {
        var info = Mallinfo2();
        return (long)info.Uordblks + (long)info.Hblkhd;
    }
}
