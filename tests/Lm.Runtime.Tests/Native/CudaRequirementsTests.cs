using System.Runtime.InteropServices;
using Lm.Runtime.Native;

namespace Lm.Runtime.Tests.Native;

/// <summary>What doctor says a CUDA run lacks, read from the files an NVIDIA driver creates (here faked in a temp folder).</summary>
public sealed class CudaRequirementsTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("lm-cuda-").FullName;

    private string Proc => Path.Combine(_root, "proc");

    private string Dev => Directory.CreateDirectory(Path.Combine(_root, "dev")).FullName;

    private static NativePlatform Machine(NativeOs os, Architecture architecture) =>
        new(os, architecture, "GenuineIntel", os == NativeOs.Linux, _ => null);

    private static readonly NativePlatform LinuxX64 = Machine(NativeOs.Linux, Architecture.X64);

    [Fact]
    public void A_cpu_build_on_a_machine_without_driver_or_gpu_lacks_all_three()
    {
        File.WriteAllText(Path.Combine(Dev, "null"), "");

        var missing = CudaRequirements.Missing(cudaBackend: false, LinuxX64, Proc, Dev);

        Assert.Equal(3, missing.Count);
        Assert.StartsWith("a CUDA libtorch: this lm-tune carries libtorch-cpu-linux-x64 2.10.0; build lm-tune from source with -p:LmTorchBackend=cuda against a feed that has TorchSharp-cuda-linux 0.107.0 (libtorch-cuda-12.8-linux-x64 2.10.0)", missing[0]);
        Assert.Equal($"an NVIDIA driver: none is loaded ({Proc}/driver/nvidia/version does not exist); install the driver for CUDA 12.8 or later", missing[1]);
        Assert.Equal($"a GPU: no {Dev}/nvidiaN device node (no NVIDIA GPU, or the container was started without one)", missing[2]);
        Assert.Null(CudaRequirements.DriverVersion(Proc));
    }

    [Fact]
    public void A_cuda_build_with_a_driver_and_a_device_lacks_nothing_and_the_driver_line_is_read()
    {
        Directory.CreateDirectory(Path.Combine(Proc, "driver", "nvidia"));
        File.WriteAllText(Path.Combine(Proc, "driver", "nvidia", "version"), "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15\nGCC version: gcc 12\n");
        // nvidiactl and nvidia-uvm exist without a GPU too: only nvidiaN counts as a device.
        File.WriteAllText(Path.Combine(Dev, "nvidiactl"), "");
        Assert.Equal([$"a GPU: no {Dev}/nvidiaN device node (no NVIDIA GPU, or the container was started without one)"],
            CudaRequirements.Missing(cudaBackend: true, LinuxX64, Proc, Dev));

        File.WriteAllText(Path.Combine(Dev, "nvidia0"), "");
        Assert.Empty(CudaRequirements.Missing(cudaBackend: true, LinuxX64, Proc, Dev));
        Assert.Equal("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15", CudaRequirements.DriverVersion(Proc));
    }

    [Fact]
    public void Windows_and_macos_are_told_the_cuda_build_is_for_linux_x64_and_nothing_is_read_from_proc()
    {
        // A driver and a device under the fake roots: on those systems they are not where CUDA would be looked for.
        Directory.CreateDirectory(Path.Combine(Proc, "driver", "nvidia"));
        File.WriteAllText(Path.Combine(Proc, "driver", "nvidia", "version"), "NVRM version: 550.54.15\n");
        File.WriteAllText(Path.Combine(Dev, "nvidia0"), "");

        Assert.Equal(["CUDA: macOS has none; lm-tune runs on the CPU there"],
            CudaRequirements.Missing(cudaBackend: false, Machine(NativeOs.MacOS, Architecture.Arm64), Proc, Dev));
        Assert.Equal(["a CUDA build for win-x64: lm-tune's CUDA build (-p:LmTorchBackend=cuda, TorchSharp-cuda-linux 0.107.0 (libtorch-cuda-12.8-linux-x64 2.10.0)) is for linux-x64; here it runs on the CPU (docs/cli.md, \"Platforms and CUDA\")"],
            CudaRequirements.Missing(cudaBackend: false, Machine(NativeOs.Windows, Architecture.X64), Proc, Dev));
        Assert.StartsWith("a CUDA build for linux-arm64: ", Assert.Single(CudaRequirements.Missing(cudaBackend: false, Machine(NativeOs.Linux, Architecture.Arm64), Proc, Dev)));
    }

    [Fact]
    public void LM0001_names_the_native_package_of_the_platform_at_libtorchs_version()
    {
        Assert.Equal("""<PackageReference Include="libtorch-cpu-linux-x64" Version="2.10.0" />""", TorchRuntime.NativePackageReferenceFor(LinuxX64));
        Assert.Equal("""<PackageReference Include="libtorch-cpu-win-x64" Version="2.10.0" />""", TorchRuntime.NativePackageReferenceFor(Machine(NativeOs.Windows, Architecture.X64)));
        Assert.Equal("""<PackageReference Include="libtorch-cpu-osx-arm64" Version="2.10.0" />""", TorchRuntime.NativePackageReferenceFor(Machine(NativeOs.MacOS, Architecture.Arm64)));
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
