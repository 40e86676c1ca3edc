using Lm.Tool.Cli;

namespace Lm.Tool.Progress;

/// <summary>
/// Shows the phases of a run (download, tokenize, train, eval): a live bar per phase on a terminal, plain lines
/// when output is redirected or <c>CI</c> is set. Everything goes to stderr.
/// </summary>
internal abstract class ProgressReporter : IDisposable
{
    /// <summary>Live bars when stderr is an interactive terminal at normal verbosity or more; plain lines otherwise.</summary>
    public static ProgressReporter Create(CliOutput output) =>
        output.Interactive && output.Verbosity >= Verbosity.Normal ? new LiveProgress(output) : new LineProgress(output);

    /// <summary>Starts a phase of <paramref name="total"/> steps (0 when unknown).</summary>
    public abstract void Begin(string phase, long total);

    /// <summary>Moves a phase to <paramref name="done"/> steps; <paramref name="metrics"/> (loss, learning rate) shows beside the bar.</summary>
    public abstract void Update(string phase, long done, string? metrics = null);

    /// <summary>Marks a phase finished.</summary>
    public abstract void End(string phase);

    /// <summary>A line that stays in the log: one per logging step and per evaluation.</summary>
    public abstract void Line(string text);

    public virtual void Dispose()
    {
    }
}
