using System.Diagnostics;
using System.Globalization;

namespace Lm.Bench;

/// <summary>The benchmarks' command-line options and process measurements.</summary>
internal static class BenchProcess
{
    public static double CpuSeconds() => Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;

    /// <summary>The process's peak resident set (VmHWM).</summary>
    public static long PeakResidentBytes()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                // "VmHWM:\t    2184 kB": the kernel pads the number to eight places after the tab, so a peak of
                // 10 GB or more follows the tab directly; split on both.
                return long.Parse(line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        return 0;
    }

    public static string? Option(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    public static int? IntOption(string[] args, string name) =>
        Option(args, name) is string value ? int.Parse(value, CultureInfo.InvariantCulture) : null;
}
