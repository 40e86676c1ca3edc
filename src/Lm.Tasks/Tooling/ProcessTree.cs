using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Lm.Tasks.Tooling;

/// <summary>
/// A process's descendants, read from /proc on Linux (elsewhere: none, and Process.Kill(entireProcessTree) does the
/// work). Each is remembered with its start time, so that a process id killed later (after a grace period, when the
/// descendant may have exited and its id been given to an unrelated process) is killed only if it is still the same
/// process.
/// </summary>
internal static partial class ProcessTree
{
    private const int SigKill = 9;

    /// <summary>One process as /proc showed it: id and start time (clock ticks since boot).</summary>
    public readonly record struct Member(int ProcessId, long StartTicks);

    public static IReadOnlyList<Member> Descendants(int root)
    {
        if (!OperatingSystem.IsLinux()) return [];
        var table = new Dictionary<int, (int Parent, long Start)>();
        foreach (string folder in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(folder), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) continue;
            if (ReadStat(pid) is { } stat) table[pid] = stat;
        }
        var result = new List<Member>();
        var frontier = new Queue<int>([root]);
        while (frontier.TryDequeue(out int parent))
        {
            foreach (var (pid, (ppid, start)) in table)
            {
                if (ppid != parent) continue;
                result.Add(new Member(pid, start));
                frontier.Enqueue(pid);
            }
        }
        return result;
    }

    /// <summary>
    /// Kills <paramref name="member"/> and its current descendants if a process with its id still runs and started at
    /// the same time; a process that merely reuses the id is left alone.
    /// </summary>
    public static void Kill(Member member)
    {
        if (!OperatingSystem.IsLinux())
        {
            try
            {
                using var process = Process.GetProcessById(member.ProcessId);
                process.Kill();
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                // Already gone.
            }
            return;
        }
        if (ReadStat(member.ProcessId) is not { } now || now.Start != member.StartTicks) return;
        // Its children started since the listing are read now (and checked again just before their own signal).
        foreach (var child in Descendants(member.ProcessId))
        {
            if (ReadStat(child.ProcessId) is { } current && current.Start == child.StartTicks) _ = SendSignal(child.ProcessId, SigKill);
        }
        _ = SendSignal(member.ProcessId, SigKill);
    }

    /// <summary>Parent id and start time from /proc/PID/stat, or null when the process is gone.</summary>
    private static (int Parent, long Start)? ReadStat(int pid)
    {
        try
        {
            // "pid (comm) state ppid ... starttime(22) ...": comm may hold spaces and parentheses, so parse after the last ')'.
            string stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
            string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (int.Parse(fields[1], CultureInfo.InvariantCulture), long.Parse(fields[19], CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or OverflowException
                                      or ArgumentOutOfRangeException or IndexOutOfRangeException)
        {
            // The process exited while we read.
            return null;
        }
    }

#if NET
    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);
#else
    // The net472 build runs in Visual Studio's MSBuild, on Windows, where this is never called.
    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);
#endif
}
