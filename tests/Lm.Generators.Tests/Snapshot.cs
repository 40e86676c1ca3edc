using System.Runtime.CompilerServices;
using System.Text;

namespace Lm.Generators.Tests;

/// <summary>
/// Checked-in snapshots of generated source (<c>Snapshots/&lt;name&gt;.verified.cs</c>). On a difference the test
/// fails with the first differing lines and writes <c>&lt;name&gt;.received.cs</c> beside the snapshot for a diff
/// tool; set <c>LM_ACCEPT_SNAPSHOTS=1</c> to accept the received text after reviewing it.
/// </summary>
public static class Snapshot
{
    public static void Match(string actual, string name, [CallerFilePath] string callerPath = "")
    {
        string folder = Path.Combine(Path.GetDirectoryName(callerPath)!, "Snapshots");
        string verified = Path.Combine(folder, name + ".verified.cs");
        string received = Path.Combine(folder, name + ".received.cs");
        actual = actual.Replace("\r\n", "\n");
        if (Environment.GetEnvironmentVariable("LM_ACCEPT_SNAPSHOTS") == "1")
        {
            Directory.CreateDirectory(folder);
            File.WriteAllText(verified, actual);
            File.Delete(received);
            return;
        }
        string? expected = File.Exists(verified) ? File.ReadAllText(verified).Replace("\r\n", "\n") : null;
        if (expected == actual)
        {
            File.Delete(received);
            return;
        }
        Directory.CreateDirectory(folder);
        File.WriteAllText(received, actual);
        Assert.Fail(expected is null
            ? $"no snapshot {verified}; review {received} and rename it to .verified.cs (or run with LM_ACCEPT_SNAPSHOTS=1)"
            : $"generated source differs from {verified} (received: {received}):\n{Diff(expected, actual)}");
    }

    /// <summary>The differing region with a little context, as "-expected" / "+received" lines.</summary>
    private static string Diff(string expected, string actual)
    {
        string[] a = expected.Split('\n');
        string[] b = actual.Split('\n');
        int start = 0;
        while (start < a.Length && start < b.Length && a[start] == b[start]) start++;
        int endA = a.Length - 1, endB = b.Length - 1;
        while (endA >= start && endB >= start && a[endA] == b[endB]) { endA--; endB--; }
        var diff = new StringBuilder();
        for (int i = Math.Max(0, start - 2); i < start; i++) diff.Append("  ").AppendLine(a[i]);
        for (int i = start; i <= endA; i++) diff.Append("- ").AppendLine(a[i]);
        for (int i = start; i <= endB; i++) diff.Append("+ ").AppendLine(b[i]);
        diff.Append("  (line ").Append(start + 1).Append(')');
        return diff.ToString();
    }
}
