using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Lm.Runtime.Native;

/// <summary>
/// Lets the MKL inside libtorch choose its kernels by the CPU's features on AMD processors. MKL first asks its own
/// <c>mkl_serv_intel_cpu_true()</c> whether the CPU is an Intel one, and on any other vendor takes a generic AVX2
/// path even where the CPU has AVX-512. libtorch exports that function and calls it through its PLT, so a library
/// loaded into the global symbol scope before libtorch that defines it (returning 1) is the one MKL calls. The
/// library is a 4 KB ELF file written here (no compiler needed): one exported function, <c>mov eax, 1; ret</c>.
/// Measured on the distilgpt2-shaped float32 train step on an AMD EPYC with AVX-512 (BENCHMARKS.md): 4.5 s → 2.4 s,
/// eval step 1.37 s → 0.59 s. Only applied on AMD x86-64 Linux; <c>LM_TUNE_MKL_VENDOR_CHECK=keep</c> turns it off.
/// </summary>
public static partial class MklCpuDispatch
{
    internal const string SymbolName = "mkl_serv_intel_cpu_true";
    internal const string OptOutVariable = "LM_TUNE_MKL_VENDOR_CHECK";
    private const string SoName = "liblmtune-mkl-cpu.so";

    /// <summary>Loads the override before libtorch when it applies; returns a line for the load trace.</summary>
    public static string Apply(string cacheRoot) => Apply(cacheRoot, NativePlatform.Current);

    internal static string Apply(string cacheRoot, NativePlatform platform)
    {
        if (SkipReason(platform) is { } skipped) return skipped;
        try
        {
            string path = WriteLibrary(cacheRoot);
            IntPtr handle = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
            return handle != IntPtr.Zero
                ? $"mkl: AMD CPU, kernels chosen by CPU features ({path} defines {SymbolName})"
                : $"mkl: could not load {path}: {Marshal.PtrToStringUTF8(dlerror())}";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DllNotFoundException or EntryPointNotFoundException)
        {
            return $"mkl: override not loaded ({e.Message}), MKL's dispatch left as is";
        }
    }

    /// <summary>
    /// Why the override does not apply on <paramref name="platform"/> (the trace line), or null where it does: an AMD
    /// CPU under x86-64 Linux (MKL's Intel check is what the override answers; the library written is an x86-64 ELF),
    /// unless <c>LM_TUNE_MKL_VENDOR_CHECK=keep</c>.
    /// </summary>
    internal static string? SkipReason(NativePlatform platform)
    {
        if (platform.Os != NativeOs.Linux || platform.Architecture != Architecture.X64)
            return "mkl: not x86-64 Linux, MKL's dispatch left as is";
        if (platform.Environment(OptOutVariable) == "keep")
            return $"mkl: {OptOutVariable}=keep, MKL's vendor check left as is";
        if (platform.CpuVendor != "AuthenticAMD")
            return $"mkl: {(platform.CpuVendor.Length == 0 ? "unknown" : platform.CpuVendor)} CPU, MKL's dispatch left as is";
        return null;
    }

    private static string WriteLibrary(string cacheRoot)
    {
        string folder = Path.Combine(cacheRoot, "native");
        string target = Path.Combine(folder, SoName);
        byte[] image = BuildLibrary();
        if (File.Exists(target) && File.ReadAllBytes(target).AsSpan().SequenceEqual(image)) return target;
        Directory.CreateDirectory(folder);
        string temp = target + "." + Environment.ProcessId + ".tmp";
        File.WriteAllBytes(temp, image);
        File.Move(temp, target, overwrite: true);
        return target;
    }

    /// <summary>
    /// A minimal x86-64 ELF shared object exporting <see cref="SymbolName"/>. Layout (virtual address = file
    /// offset): header and program headers, DT_HASH table, dynamic symbols, their names, the code; then at 0x1000
    /// the dynamic section, in a writable segment of its own because the dynamic loader adjusts its addresses in
    /// place. A PT_GNU_STACK header keeps the stack non-executable. No section headers: loading does not use them.
    /// </summary>
    internal static byte[] BuildLibrary()
    {
        const int headerSize = 64, programHeaderSize = 56, programHeaders = 4;
        const long page = 0x1000;
        byte[] code = [0xB8, 0x01, 0x00, 0x00, 0x00, 0xC3]; // mov eax, 1; ret
        byte[] names = System.Text.Encoding.ASCII.GetBytes("\0" + SymbolName + "\0" + SoName + "\0");
        const int symbolName = 1;
        int soName = 1 + SymbolName.Length + 1;

        long hash = headerSize + programHeaderSize * programHeaders;
        long symbols = Align(hash + 5 * 4, 8);      // nbucket, nchain, one bucket, two chain entries
        long strings = symbols + 2 * 24;            // the null symbol and ours
        long text = Align(strings + names.Length, 16);
        long textEnd = text + code.Length;
        long dynamic = page;
        (long Tag, long Value)[] entries =
        [
            (4, hash), (5, strings), (6, symbols), (10, names.Length), (11, 24), (14, soName), (0, 0),
        ];
        long dynamicSize = entries.Length * 16;
        var image = new byte[dynamic + dynamicSize];
        var span = image.AsSpan();

        // ELF header: 64-bit, little-endian, current version, shared object, x86-64.
        span[0] = 0x7F; span[1] = (byte)'E'; span[2] = (byte)'L'; span[3] = (byte)'F';
        span[4] = 2; span[5] = 1; span[6] = 1;
        U16(span, 16, 3); U16(span, 18, 62); U32(span, 20, 1);
        U64(span, 32, headerSize);                     // e_phoff
        U16(span, 52, headerSize); U16(span, 54, programHeaderSize); U16(span, 56, programHeaders);

        static void ProgramHeader(Span<byte> span, int index, uint type, uint flags, long offset, long size, long align)
        {
            int at = headerSize + index * programHeaderSize;
            U32(span, at, type); U32(span, at + 4, flags);
            U64(span, at + 8, offset); U64(span, at + 16, offset); U64(span, at + 24, offset); // offset, vaddr, paddr
            U64(span, at + 32, size); U64(span, at + 40, size); U64(span, at + 48, align);
        }
        const uint load = 1, dynamicType = 2, gnuStack = 0x6474E551, readExecute = 5, readWrite = 6;
        ProgramHeader(span, 0, load, readExecute, 0, textEnd, page);
        ProgramHeader(span, 1, load, readWrite, dynamic, dynamicSize, page);
        ProgramHeader(span, 2, dynamicType, readWrite, dynamic, dynamicSize, 8);
        ProgramHeader(span, 3, gnuStack, readWrite, 0, 0, 16);

        // DT_HASH: one bucket holding symbol 1, chains ending at 0.
        U32(span, (int)hash, 1); U32(span, (int)hash + 4, 2); U32(span, (int)hash + 8, 1);

        // Symbol 1: global function, defined (any section index but SHN_UNDEF), at the code.
        int symbol = (int)symbols + 24;
        U32(span, symbol, symbolName);
        span[symbol + 4] = 0x12;                       // STB_GLOBAL << 4 | STT_FUNC
        U16(span, symbol + 6, 1);
        U64(span, symbol + 8, text); U64(span, symbol + 16, code.Length);

        names.CopyTo(span[(int)strings..]);
        code.CopyTo(span[(int)text..]);
        for (int i = 0; i < entries.Length; i++)
        {
            U64(span, (int)dynamic + i * 16, entries[i].Tag);
            U64(span, (int)dynamic + i * 16 + 8, entries[i].Value);
        }
        return image;
    }

    private static long Align(long value, long alignment) => (value + alignment - 1) / alignment * alignment;
    private static void U16(Span<byte> s, int at, int v) => BinaryPrimitives.WriteUInt16LittleEndian(s[at..], (ushort)v);
    private static void U32(Span<byte> s, int at, long v) => BinaryPrimitives.WriteUInt32LittleEndian(s[at..], (uint)v);
    private static void U64(Span<byte> s, int at, long v) => BinaryPrimitives.WriteUInt64LittleEndian(s[at..], (ulong)v);

    private const int RTLD_NOW = 2, RTLD_GLOBAL = 0x100;

    [LibraryImport("libdl.so.2", EntryPoint = "dlopen", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial IntPtr dlopen(string path, int flags);

    [LibraryImport("libdl.so.2", EntryPoint = "dlerror")]
    private static partial IntPtr dlerror();

    [LibraryImport("libdl.so.2", EntryPoint = "dlsym", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial IntPtr dlsym(IntPtr handle, string symbol);
}
