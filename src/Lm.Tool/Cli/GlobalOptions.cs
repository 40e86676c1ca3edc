using System.CommandLine;

namespace Lm.Tool.Cli;

/// <summary>Options every command accepts (declared once on the root, recursive).</summary>
internal sealed class GlobalOptions
{
    public Option<bool> Json { get; } = new("--json")
    {
        Description = "Print exactly one JSON object of results on stdout; logs and progress go to stderr",
        Recursive = true,
    };

    public Option<bool> Verbose { get; } = new("--verbose")
    {
        Description = "Show stack traces with errors and detailed logs",
        Recursive = true,
    };

    public Option<string> Verbosity { get; } = new("--verbosity", "-v")
    {
        Description = "How much to log on stderr: quiet, minimal, normal (default), detailed",
        Recursive = true,
        HelpName = "level",
    };

    public GlobalOptions()
    {
        Verbosity.AcceptOnlyFromAmong("quiet", "minimal", "normal", "detailed", "q", "m", "n", "d");
    }

    public void AddTo(RootCommand root)
    {
        root.Options.Add(Json);
        root.Options.Add(Verbose);
        root.Options.Add(Verbosity);
    }

    /// <summary>The output channel these options describe for one parse.</summary>
    public CliOutput CreateOutput(ParseResult parse, TextWriter stdout, TextWriter stderr)
    {
        bool verbose = parse.GetValue(Verbose);
        Cli.Verbosity level = parse.GetValue(Verbosity) switch
        {
            "quiet" or "q" => Cli.Verbosity.Quiet,
            "minimal" or "m" => Cli.Verbosity.Minimal,
            "detailed" or "d" => Cli.Verbosity.Detailed,
            "normal" or "n" => Cli.Verbosity.Normal,
            _ => verbose ? Cli.Verbosity.Detailed : Cli.Verbosity.Normal,
        };
        return new CliOutput(stdout, stderr, parse.GetValue(Json), level, verbose, CliOutput.DetectInteractive());
    }
}
