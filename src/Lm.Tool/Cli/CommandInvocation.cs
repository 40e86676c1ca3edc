using System.CommandLine;

namespace Lm.Tool.Cli;

/// <summary>What a command's body gets: the parse, the output channel and the Ctrl+C token.</summary>
internal sealed record CommandInvocation(ParseResult Parse, CliOutput Output, CancellationToken Cancellation)
{
    public T? Get<T>(Option<T> option) => Parse.GetValue(option);

    public T? Get<T>(Argument<T> argument) => Parse.GetValue(argument);

    /// <summary>True when the option appeared on the command line (not just its default).</summary>
    public bool Given(Option option) => Parse.GetResult(option) is { Implicit: false };
}
