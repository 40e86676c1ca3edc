using System.Globalization;

namespace Lm.Runtime.Checkpoints;

/// <summary>
/// A process as the names of staging folders record it: its id and, on Linux, its start time (clock ticks since boot,
/// field 22 of <c>/proc/PID/stat</c>). The start time tells a live owner from a later process that got the same id,
/// so a folder left by a killed run is recognised as stale even when its id has been reused.
/// </summary>
internal readonly record struct ProcessIdentity(int ProcessId, long StartTicks)
{
    /// <summary>This process.</summary>
    public static ProcessIdentity Current { get; } = new(Environment.ProcessId, StartTicksOf(Environment.ProcessId) ?? 0);

    /// <summary>The tag written into names: <c>PID-START</c>.</summary>
    public string Tag => string.Create(CultureInfo.InvariantCulture, $"{ProcessId}-{StartTicks}");

    /// <summary>
    /// Whether the process this identity names is still running. With <paramref name="startTicks"/> null (a name
    /// that carries only the id) a live process of that id counts as the owner. Where the process table cannot be
    /// read (not Linux), any process of that id does.
    /// </summary>
    public static bool IsAlive(int processId, long? startTicks)
    {
        if (processId <= 0) return false;
        if (processId == Environment.ProcessId) return startTicks is null || startTicks == Current.StartTicks;
        if (!OperatingSystem.IsLinux())
        {
            try
            {
                using var process = System.Diagnostics.Process.GetProcessById(processId);
                return !process.HasExited;
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException)
            {
                return false;
            }
        }
        var fields = StatFields(processId);
        if (fields is null) return false;
        // A zombie has exited; only its parent has not collected it yet.
        if (fields[0] == "Z" || fields[0] == "X") return false;
        return startTicks is not long expected || ParseStart(fields) == expected;
    }

    /// <summary>The start time of <paramref name="processId"/> in clock ticks since boot, or null (gone, or not Linux).</summary>
    public static long? StartTicksOf(int processId) => StatFields(processId) is { } fields ? ParseStart(fields) : null;

    /// <summary>The fields of <c>/proc/PID/stat</c> after the command name (state first), or null.</summary>
    private static string[]? StatFields(int processId)
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
            string stat = File.ReadAllText($"/proc/{processId.ToString(CultureInfo.InvariantCulture)}/stat");
            int end = stat.LastIndexOf(')');
            return end < 0 || end + 2 >= stat.Length ? null : stat[(end + 2)..].Split(' ');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    // Field 22 of stat is starttime; the array starts at field 3 (state).
    private static long? ParseStart(string[] fields) =>
        fields.Length > 19 && long.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out long ticks) ? ticks : null;
}
