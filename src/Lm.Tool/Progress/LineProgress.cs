using System.Diagnostics;
using Lm.Tool.Cli;

namespace Lm.Tool.Progress;

/// <summary>Progress for logs: no escapes, no redraws; a line when a phase starts and ends, and the caller's log lines.</summary>
internal sealed class LineProgress : ProgressReporter
{
    private readonly CliOutput _output;
    private readonly Dictionary<string, (Stopwatch Clock, long Total, long Done)> _phases = new();

    public LineProgress(CliOutput output)
    {
        _output = output;
    }

    public override void Begin(string phase, long total)
    {
        lock (_phases) _phases[phase] = (Stopwatch.StartNew(), total, 0);
        _output.Info(total > 0 ? $"{phase}: {total:N0} steps" : $"{phase}: started");
    }

    public override void Update(string phase, long done, string? metrics = null)
    {
        lock (_phases)
        {
            if (_phases.TryGetValue(phase, out var state)) _phases[phase] = state with { Done = done };
        }
        _output.Detail(metrics is null ? $"{phase}: {done}" : $"{phase}: {done} {metrics}");
    }

    public override void End(string phase)
    {
        (Stopwatch Clock, long Total, long Done) state;
        lock (_phases)
        {
            if (!_phases.Remove(phase, out state)) return;
        }
        double seconds = state.Clock.Elapsed.TotalSeconds;
        string rate = state.Done > 0 && seconds > 0 ? $", {state.Done / seconds:0.##} it/s" : "";
        _output.Summary($"{phase}: done in {seconds:0.#} s{rate}");
    }

    public override void Line(string text) => _output.Info(text);
}
