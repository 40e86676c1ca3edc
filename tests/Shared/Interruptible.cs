using System.Diagnostics;
using System.Globalization;

namespace Lm.Testing;

/// <summary>
/// Children that a test interrupts with SIGINT, as Ctrl+C in a terminal does. A signal ignored by a process stays
/// ignored in every child it starts (POSIX), and a test run started in the background (<c>cmd &amp;</c> in a shell
/// without job control, <c>nohup</c>, some CI runners) has SIGINT ignored: .NET then installs no handler in the child,
/// which never sees the test's SIGINT, and the test waited minutes and failed. <c>env --default-signal=INT</c> (GNU
/// coreutils 8.31+) puts SIGINT back to its default and then executes the program, which keeps env's process id.
/// </summary>
internal static class Interruptible
{
    private static readonly Lazy<bool> EnvResetsSignals = new(() =>
    {
        try
        {
            using var probe = Process.Start(new ProcessStartInfo("env", ["--default-signal=INT", "true"])
            {
                RedirectStandardError = true,
                UseShellExecute = false,
            })!;
            probe.StandardError.ReadToEnd();
            probe.WaitForExit();
            return probe.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    });

    /// <summary>
    /// <paramref name="start"/> (its program and <see cref="ProcessStartInfo.ArgumentList"/>) run through
    /// <c>env --default-signal=INT</c>, so the started process handles SIGINT however this test run was started.
    /// Fails the test up front, saying why, where that is impossible and SIGINT is ignored here.
    /// </summary>
    public static ProcessStartInfo WithDefaultSigint(ProcessStartInfo start)
    {
        if (!OperatingSystem.IsLinux()) return start;
        Assert.True(start.Arguments.Length == 0, "pass the arguments in ArgumentList");
        if (!EnvResetsSignals.Value)
        {
            Assert.False(SigintIgnoredHere(),
                "SIGINT is ignored in this test run (started from a background shell?) and `env --default-signal` is missing " +
                "(GNU coreutils 8.31+), so the child could not be interrupted: run the tests from a foreground shell");
            return start;
        }
        start.ArgumentList.Insert(0, start.FileName);
        start.ArgumentList.Insert(0, "--default-signal=INT");
        start.FileName = "env";
        return start;
    }

    /// <summary>Whether SIGINT (signal 2) is in the SigIgn mask of <paramref name="status"/>, a /proc/PID/status text.</summary>
    public static bool SigintIgnored(string status)
    {
        string mask = status.Split('\n').Single(l => l.StartsWith("SigIgn:", StringComparison.Ordinal))["SigIgn:".Length..].Trim();
        return (ulong.Parse(mask, NumberStyles.HexNumber, CultureInfo.InvariantCulture) & (1UL << (2 - 1))) != 0;
    }

    private static bool SigintIgnoredHere() => SigintIgnored(File.ReadAllText("/proc/self/status"));
}
