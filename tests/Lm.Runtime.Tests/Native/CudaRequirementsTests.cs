using Lm.Runtime.Native;

namespace Lm.Runtime.Tests.Native;

/// <summary>What doctor says a CUDA run lacks, read from the files an NVIDIA driver creates (here faked in a temp folder).</summary>
public sealed class CudaRequirementsTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("lm-cuda-").FullName;

    private string Proc => Path.Combine(_root, "proc");

    private string Dev => Directory.CreateDirectory(Path.Combine(_root, "dev")).FullName;

    [Fact]
    public void A_cpu_build_on_a_machine_without_driver_or_gpu_lacks_all_three()
    {
        if (!OperatingSystem.IsLinux()) return;
        File.WriteAllText(Path.Combine(Dev, "null"), "");

        var missing = CudaRequirements.Missing(cudaBackend: false, Proc, Dev);

        Assert.Equal(3, missing.Count);
        Assert.StartsWith("a CUDA libtorch: this lm-tune carries libtorch-cpu-linux-x64 2.10.0; build lm-tune from source with -p:LmTorchBackend=cuda against a feed that has TorchSharp-cuda-linux 0.107.0 (libtorch-cuda-12.8-linux-x64 2.10.0)", missing[0]);
        Assert.Equal($"an NVIDIA driver: none is loaded ({Proc}/driver/nvidia/version does not exist); install the driver for CUDA 12.8 or later", missing[1]);
        Assert.Equal($"a GPU: no {Dev}/nvidiaN device node (no NVIDIA GPU, or the container was started without one)", missing[2]);
        Assert.Null(CudaRequirements.DriverVersion(Proc));
    }

    [Fact]
    public void A_cuda_build_with_a_driver_and_a_device_lacks_nothing_and_the_driver_line_is_read()
    {
        if (!OperatingSystem.IsLinux()) return;
        Directory.CreateDirectory(Path.Combine(Proc, "driver", "nvidia"));
        File.WriteAllText(Path.Combine(Proc, "driver", "nvidia", "version"), "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15\nGCC version: gcc 12\n");
        // nvidiactl and nvidia-uvm exist without a GPU too: only nvidiaN counts as a device.
        File.WriteAllText(Path.Combine(Dev, "nvidiactl"), "");
        Assert.Equal([$"a GPU: no {Dev}/nvidiaN device node (no NVIDIA GPU, or the container was started without one)"],
            CudaRequirements.Missing(cudaBackend: true, Proc, Dev));

        File.WriteAllText(Path.Combine(Dev, "nvidia0"), "");
        Assert.Empty(CudaRequirements.Missing(cudaBackend: true, Proc, Dev));
        Assert.Equal("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15", CudaRequirements.DriverVersion(Proc));
    }

    [Fact]
    public void LM0001_names_the_native_package_of_this_platform_at_libtorchs_version()
    {
        if (!OperatingSystem.IsLinux() || System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture != System.Runtime.InteropServices.Architecture.X64) return;
        Assert.Equal("""<PackageReference Include="libtorch-cpu-linux-x64" Version="2.10.0" />""", TorchRuntime.NativePackageReference);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
