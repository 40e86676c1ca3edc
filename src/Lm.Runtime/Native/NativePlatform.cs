using System.Runtime.InteropServices;

namespace Lm.Runtime.Native;

/// <summary>The operating systems libtorch's CPU packages exist for, and the rest.</summary>
public enum NativeOs
{
    Linux,
    Windows,
    MacOS,
    Other,
}

/// <summary>
/// What the native setup depends on about the machine: operating system, process architecture, the CPU's vendor,
/// whether the C library is glibc, and the environment (the user's opt-outs). <see cref="Current"/> reads this
/// process's; tests pass other machines to the decisions (<see cref="HeapTuning.SkipReason"/>,
/// <see cref="OpenMpSpin.SkipReason"/>, <see cref="MklCpuDispatch.SkipReason"/>, <see cref="TorchRuntime.PatchesBridge"/>,
/// <see cref="CudaRequirements"/>), so each fix is shown to apply only where it is needed: the bridge patch and the heap
/// settings on glibc Linux, the OpenMP spin count on Linux, the MKL override on AMD x86-64 Linux.
/// </summary>
/// <param name="Os">The operating system.</param>
/// <param name="Architecture">The process's architecture (what its native libraries must be built for).</param>
/// <param name="CpuVendor">The CPU's vendor string (<c>AuthenticAMD</c>, <c>GenuineIntel</c>), or "" where not known.</param>
/// <param name="Glibc">Whether the C library is glibc (its allocator options and its libstdc++ symbol versions).</param>
/// <param name="Environment">Reads an environment variable; null when it is not set.</param>
public sealed record NativePlatform(NativeOs Os, Architecture Architecture, string CpuVendor, bool Glibc, Func<string, string?> Environment)
{
    private static readonly Lazy<NativePlatform> Detected = new(Detect);

    /// <summary>This process's machine.</summary>
    public static NativePlatform Current => Detected.Value;

    /// <summary>The .NET runtime identifier of the platform (<c>linux-x64</c>, <c>win-x64</c>, <c>osx-arm64</c>).</summary>
    public string RuntimeIdentifier
    {
        get
        {
            string os = Os switch { NativeOs.Windows => "win", NativeOs.MacOS => "osx", NativeOs.Linux => "linux", _ => "unknown" };
            return os + "-" + Architecture.ToString().ToLowerInvariant();
        }
    }

    /// <summary>The package with CPU libtorch for this platform (<c>libtorch-cpu-linux-x64</c> and so on).</summary>
    public string CpuLibtorchPackage => "libtorch-cpu-" + RuntimeIdentifier;

    private static NativePlatform Detect()
    {
        NativeOs os = OperatingSystem.IsLinux() ? NativeOs.Linux
            : OperatingSystem.IsWindows() ? NativeOs.Windows
            : OperatingSystem.IsMacOS() ? NativeOs.MacOS
            : NativeOs.Other;
        return new NativePlatform(os, RuntimeInformation.ProcessArchitecture, os == NativeOs.Linux ? LinuxCpuVendor() : "",
            os == NativeOs.Linux && HasGlibc(), System.Environment.GetEnvironmentVariable);
    }

    /// <summary>The <c>vendor_id</c> of the first processor in /proc/cpuinfo, or "".</summary>
    private static string LinuxCpuVendor()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/cpuinfo"))
            {
                if (line.StartsWith("vendor_id", StringComparison.Ordinal))
                    return line[(line.IndexOf(':') + 1)..].Trim();
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return "";
    }

    /// <summary>Whether the C library is glibc: it alone exports <c>gnu_get_libc_version</c> (musl does not).</summary>
    private static bool HasGlibc()
    {
        if (!NativeLibrary.TryLoad("libc.so.6", out IntPtr libc)) return false;
        return NativeLibrary.TryGetExport(libc, "gnu_get_libc_version", out _);
    }
}
