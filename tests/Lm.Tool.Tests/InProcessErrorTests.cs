using System.CommandLine;
using Lm.Runtime.Errors;
using Lm.Tool.Cli;
using Lm.Tool.Commands;

namespace Lm.Tool.Tests;

/// <summary>
/// Error paths no command line can reach in a correct build, exercised through the tool's own seams in process:
/// <see cref="LmTuneApp.SetAction"/> (how every command attaches its body) and the quickstart's resource lookup.
/// </summary>
public sealed class InProcessErrorTests
{
    [Fact]
    public async Task A_command_that_throws_something_other_than_an_LmException_is_LM0599_without_a_stack_trace()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var app = new LmTuneApp(stdout, stderr);
        var command = new Command("explode", "a command whose body has a defect");
        app.Root.Subcommands.Add(command);
        app.SetAction(command, _ => throw new InvalidOperationException("a defect"));

        int exitCode = await app.InvokeAsync(["explode"]);

        Assert.Equal(1, exitCode);
        Assert.Contains("error LM0599: InvalidOperationException: a defect (run with --verbose for the stack trace)", stderr.ToString());
        Assert.DoesNotContain(" at ", stderr.ToString().Replace("(run with --verbose", ""));
        Assert.Equal("", stdout.ToString());
    }

    [Fact]
    public void A_tool_without_its_bundled_quickstart_text_is_LM0512()
    {
        // This test assembly embeds no quickstart/train.txt: the lookup fails as in a tool built without its data.
        var error = Assert.Throws<LmException>(() => QuickstartCommand.BundledData(typeof(InProcessErrorTests).Assembly));

        Assert.Equal("LM0512", error.Code);
        Assert.Equal(ErrorCodes.QuickstartDataMissing, error.Code);
        Assert.Contains("quickstart/train.txt", error.Message);
    }
}
