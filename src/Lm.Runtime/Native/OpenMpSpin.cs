using System.Runtime.InteropServices;

namespace Lm.Runtime.Native;

/// <summary>
/// Shortens how long libtorch's idle OpenMP workers spin before they sleep, on Linux, where libtorch runs its
/// parallel regions on GNU OpenMP. After each region a libgomp worker busy-waits for the next one for
/// <c>GOMP_SPINCOUNT</c> iterations (300,000 by default, a few milliseconds) holding its core. lm-tune's own CPU
/// passes (AdamW's update and the gradient norms, dropout's noise) run on .NET threads between libtorch's regions, and
/// on a machine with as many cores as torch threads the spinning worker takes a core from them: the optimizer step
/// of the distilgpt2-shaped bf16 model took 100-120 ms with the default and 65-71 ms with a spin count of
/// <see cref="SpinCount"/> (BENCHMARKS.md, with the whole train step measured both ways). libgomp reads the variable
/// once, when it loads, so it is set before libtorch loads, in the C library's environment (which .NET's own
/// environment calls do not reach); a user who set <c>GOMP_SPINCOUNT</c> or <c>OMP_WAIT_POLICY</c> keeps theirs.
/// Elsewhere libtorch uses Intel's OpenMP (Windows) or none, and nothing is set.
/// </summary>
public static partial class OpenMpSpin
{
    /// <summary>The spin count lm-tune sets.</summary>
    internal const string SpinCount = "10000";

    /// <summary>The variables that decide libgomp's waiting: a user who sets one keeps libgomp's behaviour.</summary>
    internal static readonly string[] UserSettings = ["GOMP_SPINCOUNT", "OMP_WAIT_POLICY"];

    /// <summary>Sets the spin count once, before libtorch loads; returns a line for the load trace.</summary>
    public static string Apply() => Apply(NativePlatform.Current);

    internal static string Apply(NativePlatform platform)
    {
        if (SkipReason(platform) is { } skipped) return skipped;
        try
        {
            return setenv("GOMP_SPINCOUNT", SpinCount, overwrite: 0) == 0
                ? $"openmp: idle libgomp workers spin {SpinCount} iterations, then sleep (GOMP_SPINCOUNT)"
                : "openmp: the C library refused GOMP_SPINCOUNT, left as is";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return "openmp: no setenv in the C library, left as is";
        }
    }

    /// <summary>
    /// Why the setting does not apply on <paramref name="platform"/> (the trace line), or null where it does: Linux,
    /// unless the user set one of <see cref="UserSettings"/>.
    /// </summary>
    internal static string? SkipReason(NativePlatform platform)
    {
        if (platform.Os != NativeOs.Linux) return "openmp: not Linux (libtorch does not use libgomp), left as is";
        string? userSetting = UserSettings.FirstOrDefault(v => platform.Environment(v) is not null);
        return userSetting is null ? null : $"openmp: {userSetting} is set, libgomp left as configured";
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int setenv(string name, string value, int overwrite);
}
