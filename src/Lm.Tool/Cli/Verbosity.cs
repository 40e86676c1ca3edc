namespace Lm.Tool.Cli;

/// <summary>How much lm-tune writes to stderr, with the same names as <c>dotnet -v</c>.</summary>
internal enum Verbosity
{
    /// <summary>Errors and results only.</summary>
    Quiet,
    /// <summary>Also warnings and one line per phase.</summary>
    Minimal,
    /// <summary>Also progress and informational lines (the default).</summary>
    Normal,
    /// <summary>Also per-step lines and what was resolved where.</summary>
    Detailed,
}
