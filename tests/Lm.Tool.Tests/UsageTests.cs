namespace Lm.Tool.Tests;

public sealed class UsageTests
{
    [Fact]
    public void Help_lists_the_commands()
    {
        var result = LmTuneProcess.Run("--help");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("doctor", result.Stdout);
    }

    [Fact]
    public void Unknown_flag_is_a_usage_error_that_names_the_nearest_option()
    {
        var result = LmTuneProcess.Run("doctor", "--jsno");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--jsno", result.Stderr);
        Assert.Contains("--json", result.Stderr);
        Assert.Equal("", result.Stdout);
    }

    [Fact]
    public void Unknown_command_is_a_usage_error_that_names_the_nearest_command()
    {
        var result = LmTuneProcess.Run("doctr");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("doctor", result.Stderr);
    }

    [Fact]
    public void Usage_error_with_json_still_prints_one_json_object()
    {
        var result = LmTuneProcess.Run("doctor", "--json", "--bogus");
        Assert.Equal(2, result.ExitCode);
        Assert.True(result.Json["error"]!["usage"]!.GetValue<bool>());
    }
}
