using Lm.Tool.Cli;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Lm.Tool.Progress;

/// <summary>
/// Spectre.Console bars on stderr, one per phase: description, bar, step/total, it/s, ETA, and the latest loss and
/// learning rate. The display runs on its own thread; the run updates the tasks from wherever it computes.
/// </summary>
internal sealed class LiveProgress : ProgressReporter
{
    private readonly IAnsiConsole _console;
    private readonly Dictionary<string, ProgressTask> _tasks = new();
    private readonly ManualResetEventSlim _ready = new();
    private readonly ManualResetEventSlim _finished = new();
    private readonly Task _display;
    private ProgressContext? _context;
    private bool _disposed;

    public LiveProgress(CliOutput output)
    {
        _console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output.Err) });
        var progress = new Spectre.Console.Progress(_console)
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new StepsColumn(), new SpeedColumn(),
                new RemainingTimeColumn(), new MetricsColumn());
        _display = Task.Run(() => progress.Start(context =>
        {
            _context = context;
            _ready.Set();
            while (!_finished.Wait(100)) context.Refresh();
        }));
        _ready.Wait();
    }

    public override void Begin(string phase, long total)
    {
        lock (_tasks)
        {
            var task = _context!.AddTask(Markup.Escape(phase), autoStart: true, maxValue: Math.Max(total, 1));
            task.IsIndeterminate = total <= 0;
            _tasks[phase] = task;
        }
    }

    public override void Update(string phase, long done, string? metrics = null)
    {
        lock (_tasks)
        {
            if (!_tasks.TryGetValue(phase, out var task)) return;
            task.Value = done;
            if (metrics is not null) task.Tag = metrics;
        }
    }

    public override void End(string phase)
    {
        lock (_tasks)
        {
            if (!_tasks.TryGetValue(phase, out var task)) return;
            task.IsIndeterminate = false;
            task.Value = task.MaxValue;
            task.StopTask();
        }
    }

    public override void Line(string text) => _console.MarkupLine(Markup.Escape(text));

    public override void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _finished.Set();
        _display.Wait();
        _ready.Dispose();
        _finished.Dispose();
    }

    private sealed class StepsColumn : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(task.IsIndeterminate ? $"{task.Value:0}" : $"{task.Value:0}/{task.MaxValue:0}");
    }

    private sealed class SpeedColumn : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(task.Speed is double speed ? $"{speed:0.##} it/s" : "");
    }

    private sealed class MetricsColumn : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(task.Tag as string ?? "");
    }
}
