using System.Diagnostics;
using Lm.Runtime.Checkpoints;

namespace Lm.Runtime.Tests.Checkpoints;

/// <summary>
/// A live process other than the test host (a <c>sleep</c>), standing for another lm-tune run that is saving while
/// this one cleans up; killed on dispose.
/// </summary>
internal sealed class OtherProcess : IDisposable
{
    private readonly Process _process;
    private bool _disposed;

    public OtherProcess()
    {
        _process = Process.Start(new ProcessStartInfo("sleep", "600") { UseShellExecute = false })!;
        long? start = null;
        for (int i = 0; i < 100 && start is null; i++)
        {
            start = ProcessIdentity.StartTicksOf(_process.Id);
            if (start is null) Thread.Sleep(10);
        }
        Id = _process.Id;
        StartTicks = start ?? throw new InvalidOperationException("the helper process has no /proc entry");
    }

    public int Id { get; }

    public long StartTicks { get; }

    /// <summary>The tag lm-tune writes into staging names (<c>PID-START</c>).</summary>
    public string Tag => $"{Id}-{StartTicks}";

    public bool IsRunning => !_disposed && !_process.HasExited;

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (!_process.HasExited) _process.Kill();
        _process.WaitForExit();
        _process.Dispose();
    }
}
