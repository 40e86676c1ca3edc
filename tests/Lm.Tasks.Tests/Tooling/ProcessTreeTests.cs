using System.Diagnostics;
using System.Text.RegularExpressions;
using Lm.Tasks.Tooling;

namespace Lm.Tasks.Tests.Tooling;

public class ProcessTreeTests
{
    [Fact]
    public void A_listed_descendant_is_killed_only_while_its_id_still_names_the_same_process()
    {
        Assert.True(OperatingSystem.IsLinux(), "the tree is read from /proc");
        using var child = Process.Start(new ProcessStartInfo("sleep", "600") { UseShellExecute = false })!;
        try
        {
            var member = ProcessTree.Descendants(Environment.ProcessId).Single(m => m.ProcessId == child.Id);

            // The same id with another start time: a process that got the id after the listed one exited.
            ProcessTree.Kill(member with { StartTicks = member.StartTicks + 1 });
            Assert.False(child.WaitForExit(TimeSpan.FromMilliseconds(300)), "a process that only shares the id was killed");

            ProcessTree.Kill(member);
            Assert.True(child.WaitForExit(TimeSpan.FromSeconds(10)), "the listed process was not killed");
        }
        finally
        {
            if (!child.HasExited) child.Kill();
        }
    }

    [Fact]
    public void The_build_waits_longer_for_the_tool_to_save_than_the_tool_gives_itself()
    {
        // lm-tune's own limit after Ctrl+C (System.CommandLine's ProcessTerminationTimeout).
        string app = File.ReadAllText(Path.Combine(RepoRoot.Path, "src", "Lm.Tool", "Cli", "LmTuneApp.cs"));
        var toolSeconds = Regex.Match(app, @"ProcessTerminationTimeout = TimeSpan\.FromSeconds\((\d+)\)");
        Assert.True(toolSeconds.Success, "LmTuneApp.cs no longer sets ProcessTerminationTimeout in seconds");
        string targets = File.ReadAllText(Path.Combine(RepoRoot.Path, "src", "Lm.Tasks", "build", "Lm.Build.targets"));
        var buildSeconds = Regex.Match(targets, @"<LmStopGraceSeconds Condition=""[^""]*"">(\d+)</LmStopGraceSeconds>");
        Assert.True(buildSeconds.Success);

        Assert.Equal(FineTune.DefaultStopGraceSeconds, int.Parse(buildSeconds.Groups[1].Value));
        // Ten seconds beyond the tool's limit: it exits (and flushes its checkpoint) before the build would kill it.
        Assert.True(FineTune.DefaultStopGraceSeconds >= int.Parse(toolSeconds.Groups[1].Value) + 10);
    }
}
