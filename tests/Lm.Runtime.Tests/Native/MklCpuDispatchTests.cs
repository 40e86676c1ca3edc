using System.Runtime.InteropServices;
using Lm.Runtime.Native;

namespace Lm.Runtime.Tests.Native;

public class MklCpuDispatchTests
{
    private delegate int IntFunction();

    [Fact]
    public void Written_library_loads_and_its_function_returns_one()
    {
        string path = Path.Combine(Path.GetTempPath(), $"lm-mkl-{Guid.NewGuid():N}.so");
        File.WriteAllBytes(path, MklCpuDispatch.BuildLibrary());
        try
        {
            IntPtr handle = MklCpuDispatch.dlopen(path, 2 /* RTLD_NOW, local: this copy must not interpose */);
            Assert.NotEqual(IntPtr.Zero, handle);
            IntPtr function = MklCpuDispatch.dlsym(handle, MklCpuDispatch.SymbolName);
            Assert.NotEqual(IntPtr.Zero, function);
            Assert.Equal(1, Marshal.GetDelegateForFunctionPointer<IntFunction>(function)());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void On_amd_mkl_detects_the_cpus_features_instead_of_its_generic_path()
    {
        TorchRuntime.EnsureLoaded();
        string line = TorchRuntime.LoadTrace.Single(l => l.StartsWith("mkl: ", StringComparison.Ordinal));
        if (NativePlatform.Current.CpuVendor != "AuthenticAMD")
        {
            Assert.EndsWith("left as is", line);
            return;
        }
        Assert.StartsWith("mkl: AMD CPU, kernels chosen by CPU features", line);
        // MKL's detected code path: 0 is its generic one, which it takes on AMD without the override.
        IntPtr torch = NativeLibrary.Load(Path.Combine(AppContext.BaseDirectory, "libtorch_cpu.so"));
        var detect = Marshal.GetDelegateForFunctionPointer<IntFunction>(NativeLibrary.GetExport(torch, "mkl_serv_cpu_detect"));
        Assert.NotEqual(0, detect());
    }
}
