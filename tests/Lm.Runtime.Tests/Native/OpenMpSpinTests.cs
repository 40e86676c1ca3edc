using System.Runtime.InteropServices;
using Lm.Runtime.Native;

namespace Lm.Runtime.Tests.Native;

public class OpenMpSpinTests
{
    [Fact]
    public void Loading_sets_the_spin_count_in_the_C_environment_unless_the_user_chose_one()
    {
        TorchRuntime.EnsureLoaded();
        if (!OperatingSystem.IsLinux()) return;
        string? userSetting = OpenMpSpin.UserSettings.FirstOrDefault(v => Environment.GetEnvironmentVariable(v) is not null);
        if (userSetting is null)
        {
            Assert.Contains(TorchRuntime.LoadTrace, l => l == $"openmp: idle libgomp workers spin {OpenMpSpin.SpinCount} iterations, then sleep (GOMP_SPINCOUNT)");
            // What libgomp reads when it loads: the C library's environment, which .NET's own calls do not show.
            Assert.Equal(OpenMpSpin.SpinCount, Marshal.PtrToStringUTF8(getenv("GOMP_SPINCOUNT")));
        }
        else
        {
            Assert.Contains(TorchRuntime.LoadTrace, l => l == $"openmp: {userSetting} is set, libgomp left as configured");
        }
    }

    [Theory]
    [InlineData("GOMP_SPINCOUNT")]
    [InlineData("OMP_WAIT_POLICY")]
    public void A_users_own_setting_is_kept(string variable)
    {
        var userSet = NativePlatform.Current with { Os = NativeOs.Linux, Environment = name => name == variable ? "PASSIVE" : null };
        Assert.Equal($"openmp: {variable} is set, libgomp left as configured", OpenMpSpin.SkipReason(userSet));
        Assert.Null(OpenMpSpin.SkipReason(userSet with { Environment = _ => null }));
    }

    [Theory]
    [InlineData(NativeOs.Windows)]
    [InlineData(NativeOs.MacOS)]
    public void Only_Linux_gets_it(NativeOs os) =>
        Assert.Equal("openmp: not Linux (libtorch does not use libgomp), left as is",
            OpenMpSpin.Apply(NativePlatform.Current with { Os = os, Environment = _ => null }));

    [DllImport("libc")]
    private static extern IntPtr getenv(string name);
}
