using System.Runtime.InteropServices;
using Lm.Runtime.Native;

namespace Lm.Runtime.Tests.Native;

/// <summary>
/// Which native fixes apply on which machine, decided from an injected platform: the patched TorchSharp bridge and the
/// glibc heap settings on glibc Linux only, the MKL vendor override on AMD x86-64 Linux only, each with the user's
/// opt-out honoured. A fix that does not apply says why in the load trace and touches nothing.
/// </summary>
public sealed class NativePlatformTests
{
    private static NativePlatform Machine(NativeOs os, Architecture architecture, string vendor = "AuthenticAMD", bool glibc = true,
        Dictionary<string, string>? environment = null) =>
        new(os, architecture, vendor, glibc, name => environment is not null && environment.TryGetValue(name, out var value) ? value : null);

    public static TheoryData<string, NativePlatform, bool, string?, string?> Machines => new()
    {
        // name, machine, bridge patch, heap skip reason (null: applies), MKL skip reason (null: applies)
        { "Debian on AMD", Machine(NativeOs.Linux, Architecture.X64), true, null, null },
        { "Debian on Intel", Machine(NativeOs.Linux, Architecture.X64, "GenuineIntel"), true, null, "mkl: GenuineIntel CPU, MKL's dispatch left as is" },
        { "Linux, vendor unreadable", Machine(NativeOs.Linux, Architecture.X64, ""), true, null, "mkl: unknown CPU, MKL's dispatch left as is" },
        { "Alpine (musl) on AMD", Machine(NativeOs.Linux, Architecture.X64, glibc: false), false, "heap: not glibc (no mallopt), allocator left as is", null },
        { "Linux on arm64", Machine(NativeOs.Linux, Architecture.Arm64, ""), true, null, "mkl: not x86-64 Linux, MKL's dispatch left as is" },
        { "Windows on AMD", Machine(NativeOs.Windows, Architecture.X64, glibc: false), false, "heap: not Linux, allocator left as is", "mkl: not x86-64 Linux, MKL's dispatch left as is" },
        { "macOS on Apple silicon", Machine(NativeOs.MacOS, Architecture.Arm64, "", glibc: false), false, "heap: not Linux, allocator left as is", "mkl: not x86-64 Linux, MKL's dispatch left as is" },
        { "AMD, user keeps MKL's check", Machine(NativeOs.Linux, Architecture.X64, environment: new() { ["LM_TUNE_MKL_VENDOR_CHECK"] = "keep" }),
            true, null, "mkl: LM_TUNE_MKL_VENDOR_CHECK=keep, MKL's vendor check left as is" },
        { "glibc, user sets malloc", Machine(NativeOs.Linux, Architecture.X64, environment: new() { ["MALLOC_TOP_PAD_"] = "1048576" }),
            true, "heap: MALLOC_TOP_PAD_ is set, glibc allocator left as configured", null },
    };

    [Theory]
    [MemberData(nameof(Machines))]
    public void Each_fix_applies_only_where_it_is_needed(string name, NativePlatform machine, bool patchesBridge, string? heap, string? mkl)
    {
        Assert.True(patchesBridge == TorchRuntime.PatchesBridge(machine), name);
        Assert.Equal(heap, HeapTuning.SkipReason(machine));
        Assert.Equal(mkl, MklCpuDispatch.SkipReason(machine));
    }

    [Fact]
    public void A_skipped_fix_returns_its_reason_and_writes_nothing()
    {
        string cache = Directory.CreateTempSubdirectory("lm-native-").FullName;
        try
        {
            var intel = Machine(NativeOs.Linux, Architecture.X64, "GenuineIntel");
            Assert.Equal("mkl: GenuineIntel CPU, MKL's dispatch left as is", MklCpuDispatch.Apply(cache, intel));
            Assert.Equal("heap: not Linux, allocator left as is", HeapTuning.Apply(Machine(NativeOs.Windows, Architecture.X64)));
            Assert.Empty(Directory.EnumerateFileSystemEntries(cache));
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }

    [Fact]
    public void Runtime_identifier_and_libtorch_package_are_named_as_dotnet_and_the_packages_name_them()
    {
        Assert.Equal(("linux-x64", "libtorch-cpu-linux-x64"), (Machine(NativeOs.Linux, Architecture.X64).RuntimeIdentifier, Machine(NativeOs.Linux, Architecture.X64).CpuLibtorchPackage));
        Assert.Equal(("win-x64", "libtorch-cpu-win-x64"), (Machine(NativeOs.Windows, Architecture.X64).RuntimeIdentifier, Machine(NativeOs.Windows, Architecture.X64).CpuLibtorchPackage));
        Assert.Equal(("osx-arm64", "libtorch-cpu-osx-arm64"), (Machine(NativeOs.MacOS, Architecture.Arm64).RuntimeIdentifier, Machine(NativeOs.MacOS, Architecture.Arm64).CpuLibtorchPackage));
        // This process: the runtime's own portable RID.
        Assert.Equal(RuntimeInformation.RuntimeIdentifier, NativePlatform.Current.RuntimeIdentifier);
        if (OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64)
            Assert.Contains(NativePlatform.Current.CpuVendor, new[] { "AuthenticAMD", "GenuineIntel" });
    }
}
