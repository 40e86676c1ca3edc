using System.Runtime.CompilerServices;
using System.Text;

namespace Lm.Generators.Tests;

/// <summary>
/// Checked-in snapshots of generated source (<c>Snapshots/&lt;name&gt;.verified.cs</c>). On a difference the test
/// fails with the first differing lines and writes <c>&lt;name&gt;.received.cs</c> beside the snapshot for a diff
/// tool. Accepting is a deliberate local command, <c>LM_ACCEPT_SNAPSHOTS=1 dotnet test tests/Lm.Generators.Tests</c>:
/// it writes the received text as the new snapshot but still fails every test whose snapshot it changed, so the run
/// that accepts can never be the run that passes (review the diff, then run the tests again without the variable).
/// With <c>CI</c> set it accepts nothing: a pipeline cannot make itself pass by setting the variable.
/// </summary>
public static class Snapshot
{
    public static void Match(string actual, string name, [CallerFilePath] string callerPath = "") =>
        Match(actual, name, Path.Combine(Path.GetDirectoryName(callerPath)!, "Snapshots"),
            accept: Environment.GetEnvironmentVariable("LM_ACCEPT_SNAPSHOTS") == "1",
            ci: Environment.GetEnvironmentVariable("CI") is { Length: > 0 } ci && ci != "false" && ci != "0");

    /// <summary><see cref="Match(string, string, string)"/> with the folder and the environment given (for its own tests).</summary>
    internal static void Match(string actual, string name, string folder, bool accept, bool ci)
    {
        string verified = Path.Combine(folder, name + ".verified.cs");
        string received = Path.Combine(folder, name + ".received.cs");
        actual = actual.Replace("\r\n", "\n");
        string? expected = File.Exists(verified) ? File.ReadAllText(verified).Replace("\r\n", "\n") : null;
        if (expected == actual)
        {
            File.Delete(received);
            return;
        }
        Directory.CreateDirectory(folder);
        if (accept && !ci)
        {
            File.WriteAllText(verified, actual);
            File.Delete(received);
            Assert.Fail($"accepted a changed snapshot {verified} (LM_ACCEPT_SNAPSHOTS=1); review it with git diff and run the tests again without the variable");
        }
        File.WriteAllText(received, actual);
        string refused = accept ? " LM_ACCEPT_SNAPSHOTS=1 is ignored because CI is set: accept snapshots locally and commit them." : "";
        Assert.Fail((expected is null
            ? $"no snapshot {verified}; review {received} and rename it to .verified.cs (or run with LM_ACCEPT_SNAPSHOTS=1)"
            : $"generated source differs from {verified} (received: {received}):\n{Diff(expected, actual)}") + refused);
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
