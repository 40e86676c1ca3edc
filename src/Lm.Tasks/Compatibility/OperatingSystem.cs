#if !NET
using System.Runtime.InteropServices;

/// <summary>
/// .NET 5's <c>OperatingSystem.IsWindows()</c> and kin for the net472 build (Visual Studio's MSBuild), where only
/// <see cref="RuntimeInformation"/> exists. In the global namespace, so it is found before <c>System.OperatingSystem</c>
/// by every file compiled into the tasks, the engine's shared sources included.
/// </summary>
internal static class OperatingSystem
{
    public static bool IsWindows() => RuntimeInformation.IsOSPlatform(OSPlatform.Windows);

    public static bool IsLinux() => RuntimeInformation.IsOSPlatform(OSPlatform.Linux);

    public static bool IsMacOS() => RuntimeInformation.IsOSPlatform(OSPlatform.OSX);
}
#endif
