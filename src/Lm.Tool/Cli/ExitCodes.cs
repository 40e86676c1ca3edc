namespace Lm.Tool.Cli;

/// <summary>The process exit codes lm-tune promises to scripts and to the MSBuild task that starts it.</summary>
internal static class ExitCodes
{
    public const int Success = 0;
    /// <summary>A failure with an <c>LM####</c> message on stderr.</summary>
    public const int Failure = 1;
    /// <summary>The command line itself is wrong (unknown flag, missing value): nothing ran.</summary>
    public const int UsageError = 2;
    /// <summary>Ctrl+C / SIGINT / SIGTERM stopped the command (128 + SIGINT, as shells report it).</summary>
    public const int Cancelled = 130;
}
