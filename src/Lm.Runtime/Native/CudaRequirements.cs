using System.Text.RegularExpressions;

namespace Lm.Runtime.Native;

/// <summary>
/// What a CUDA run needs that this build of lm-tune or this machine lacks, one actionable line each, for
/// <c>lm-tune doctor</c>: the CUDA libtorch (the packaged tool carries the CPU one), an NVIDIA driver, a GPU device.
/// Read from the files the driver creates, so it answers without loading any CUDA library.
/// </summary>
public static partial class CudaRequirements
{
    /// <summary>The TorchSharp CUDA bundle a CUDA build of lm-tune references (Directory.Build.targets), and what it brings.</summary>
    public const string CudaPackage = "TorchSharp-cuda-linux 0.107.0 (libtorch-cuda-12.8-linux-x64 " + TorchRuntime.LibtorchVersion + ")";

    /// <summary>What is missing on this machine for a CUDA run of a build whose backend is CUDA (<paramref name="cudaBackend"/>) or not.</summary>
    public static IReadOnlyList<string> Missing(bool cudaBackend) => Missing(cudaBackend, NativePlatform.Current, "/proc", "/dev");

    internal static IReadOnlyList<string> Missing(bool cudaBackend, NativePlatform platform, string procRoot, string devRoot)
    {
        var missing = new List<string>();
        if (platform.Os == NativeOs.MacOS)
        {
            missing.Add("CUDA: macOS has none; lm-tune runs on the CPU there");
            return missing;
        }
        if (platform.RuntimeIdentifier != "linux-x64")
        {
            // TorchSharp's CUDA bundles are for x64 Linux and Windows; lm-tune's CUDA build references the Linux one.
            missing.Add($"a CUDA build for {platform.RuntimeIdentifier}: lm-tune's CUDA build (-p:LmTorchBackend=cuda, {CudaPackage}) " +
                "is for linux-x64; here it runs on the CPU (docs/cli.md, \"Platforms and CUDA\")");
            return missing;
        }
        if (!cudaBackend)
        {
            missing.Add($"a CUDA libtorch: this lm-tune carries {platform.CpuLibtorchPackage} {TorchRuntime.LibtorchVersion}; " +
                $"build lm-tune from source with -p:LmTorchBackend=cuda against a feed that has {CudaPackage}, " +
                "which is published split into fragment packages that not every feed mirrors (docs/cli.md, \"Platforms and CUDA\")");
        }
        string driver = Path.Combine(procRoot, "driver", "nvidia", "version");
        if (!File.Exists(driver))
            missing.Add($"an NVIDIA driver: none is loaded ({driver} does not exist); install the driver for CUDA 12.8 or later");
        bool anyDevice = Directory.Exists(devRoot)
            && Directory.EnumerateFileSystemEntries(devRoot, "nvidia*").Any(p => DeviceName().IsMatch(Path.GetFileName(p)));
        if (!anyDevice)
            missing.Add($"a GPU: no {Path.Combine(devRoot, "nvidiaN")} device node (no NVIDIA GPU, or the container was started without one)");
        return missing;
    }

    /// <summary>The driver's version line (<c>NVRM version: NVIDIA UNIX x86_64 Kernel Module 550.54.15 ...</c>), when a driver is loaded.</summary>
    public static string? DriverVersion(string procRoot = "/proc")
    {
        string path = Path.Combine(procRoot, "driver", "nvidia", "version");
        return File.Exists(path) ? File.ReadLines(path).FirstOrDefault()?.Trim() : null;
    }

    [GeneratedRegex(@"^nvidia\d+$")]
    private static partial Regex DeviceName();
}
