using System.Text.RegularExpressions;

namespace Lm.Tasks.Tests.Build;

/// <summary>
/// The version contract between Lm.Build and lm-tune: a job trains only with the lm-tune of the same version, and a
/// project whose framework Lm.Build cannot serve gets one error that says so.
/// </summary>
[Collection(BuildCollection.Name)]
[Trait("Category", "Build")]
public sealed class ToolVersionBuildTests
{
    private const string Job = """<LanguageModelFineTune Include="job1" Model="tiny-gpt2" TrainFile="train.txt" />""";

    [Fact]
    public void A_tool_of_another_version_is_LM2060_naming_both_versions_and_nothing_trains()
    {
        using var project = new TempProject(Job);
        var run = project.Dotnet(["build", "-v:m"], new Dictionary<string, string> { ["FAKE_VERSION"] = "9.9.9+abc" });
        Assert.NotEqual(0, run.ExitCode);
        Assert.Matches($@"{Regex.Escape(project.ProjectFile)}\({project.LineOf("Include=\"job1\"")},\d+\): error LM2060: job1: lm-tune 9\.9\.9 \(.*fake-lm-tune\.sh --version\) does not match Lm\.Build {Regex.Escape(Lm.Tasks.Tooling.ToolVersion.Own)}: the two must be the same version", run.Output);
        Assert.Equal(0, project.ToolRuns);
        Assert.False(File.Exists(project.PathOf("obj/lm/job1/.lm-complete")));

        // The same version (build metadata aside: another commit's build of this release) trains.
        var matching = project.Dotnet(["build", "-v:m"], new Dictionary<string, string> { ["FAKE_VERSION"] = Lm.Tasks.Tooling.ToolVersion.Own + "+0123abc" });
        Assert.True(matching.ExitCode == 0, matching.ToString());
        Assert.Equal(1, project.ToolRuns);
    }

    [Fact]
    public void A_tool_that_prints_no_version_is_LM2061_and_LmCheckToolVersion_false_skips_the_check()
    {
        using var project = new TempProject(Job);
        var environment = new Dictionary<string, string> { ["FAKE_VERSION"] = "Unrecognized command or argument '--version'" };
        var run = project.Dotnet(["build", "-v:m"], environment);
        Assert.NotEqual(0, run.ExitCode);
        Assert.Matches(@"error LM2061: job1: '.*fake-lm-tune\.sh --version' did not print a version \(exit code 0\): Unrecognized command or argument '--version'", run.Output);
        Assert.Equal(0, project.ToolRuns);

        var unchecked_ = project.Dotnet(["build", "-v:m", "-p:LmCheckToolVersion=false"], environment);
        Assert.True(unchecked_.ExitCode == 0, unchecked_.ToString());
        Assert.Equal(1, project.ToolRuns);
    }

    [Fact]
    public void An_up_to_date_build_does_not_ask_the_tool_for_its_version()
    {
        using var project = new TempProject(Job);
        Assert.Equal(0, project.Build("-v:m").ExitCode);
        // Any version would now fail the check: the second build must not run it.
        var second = project.Dotnet(["build", "-v:m", "--no-restore"], new Dictionary<string, string> { ["FAKE_VERSION"] = "0.0.1" });
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Equal(1, project.ToolRuns);
    }

    [Fact]
    public void A_project_targeting_an_older_framework_is_LM2062_before_compiling()
    {
        using var project = new TempProject(Job);
        // Only the check's target: restoring net8.0 would need its targeting pack, which an offline machine may lack.
        var run = project.Dotnet(["msbuild", "-t:LmCheckTargetFramework", "-p:TargetFramework=net8.0", "-v:m"]);
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains($"{project.ProjectFile} : error LM2062: Lm.Build needs a project that targets net10.0 or later; this project targets net8.0.", run.Output);

        var current = project.Dotnet(["msbuild", "-t:LmCheckTargetFramework", "-v:m"]);
        Assert.True(current.ExitCode == 0, current.ToString());
    }
}
