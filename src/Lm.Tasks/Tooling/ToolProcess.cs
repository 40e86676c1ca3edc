using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Lm.Tasks.Tooling;

/// <summary>
/// lm-tune running as a child process: stdout is collected (the one JSON object of results), stderr lines are
/// queued for the caller to log on its own thread (MSBuild logging belongs to the task's thread), and
/// <see cref="Stop"/> interrupts it as Ctrl+C does, then kills the whole process tree if it does not exit in time.
/// </summary>
internal sealed partial class ToolProcess : IDisposable
{
    private const int SigInt = 2;
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly BlockingCollection<string> _stderr = new();
    private readonly TaskCompletionSource<bool> _stdoutClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _stopping;

    private ToolProcess(Process process) => _process = process;

    /// <summary>Starts <paramref name="executable"/> with <paramref name="arguments"/> in <paramref name="workingDirectory"/>.</summary>
    public static ToolProcess Start(string executable, IEnumerable<string> arguments, string workingDirectory,
        IReadOnlyDictionary<string, string> environment)
    {
        var startInfo = new ProcessStartInfo(executable)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            CreateNoWindow = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (string argument in arguments) startInfo.ArgumentList.Add(argument);
        foreach (var (name, value) in environment) startInfo.Environment[name] = value;
        // MSBuild's own node settings must not leak into the tool (it is not an MSBuild process).
        startInfo.Environment.Remove("MSBUILDNOINPROCNODE");

        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        var tool = new ToolProcess(process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) tool._stdoutClosed.TrySetResult(true);
            else lock (tool._stdout) tool._stdout.AppendLine(e.Data);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) tool._stderr.CompleteAdding();
            else tool._stderr.Add(e.Data);
        };
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return tool;
    }

    /// <summary>The child's process id.</summary>
    public int Id => _process.Id;

    /// <summary>Whether <see cref="Stop"/> was called.</summary>
    public bool Stopped => Volatile.Read(ref _stopping) != 0;

    /// <summary>
    /// The stderr lines as they arrive, until stderr closes, or until the child has exited and a process that
    /// inherited its stderr keeps it open past a short drain period.
    /// </summary>
    public IEnumerable<string> ErrorLines()
    {
        Stopwatch? sinceExit = null;
        while (!_stderr.IsCompleted)
        {
            if (_stderr.TryTake(out string? line, 200))
            {
                yield return line;
                continue;
            }
            if (!_process.HasExited) continue;
            sinceExit ??= Stopwatch.StartNew();
            if (sinceExit.Elapsed > TimeSpan.FromSeconds(2)) yield break;
        }
    }

    /// <summary>Waits for the exit and the end of stdout; returns the exit code.</summary>
    public int WaitForExit()
    {
        _process.WaitForExit();
        _stdoutClosed.Task.Wait(TimeSpan.FromSeconds(10));
        return _process.ExitCode;
    }

    /// <summary>What the child wrote to stdout.</summary>
    public string StandardOutput
    {
        get { lock (_stdout) return _stdout.ToString(); }
    }

    /// <summary>
    /// Interrupts the child and its descendants (SIGINT on Unix, as Ctrl+C in a terminal, so lm-tune can stop at a step
    /// boundary and exit 130), then kills whatever is still running after <paramref name="grace"/>: the child's whole
    /// tree, and descendants that were orphaned meanwhile (those only while their id still names the process seen
    /// before the grace period, never a process that reused the id). Checkpoints already saved stay on disk.
    /// </summary>
    public void Stop(TimeSpan grace)
    {
        if (Interlocked.Exchange(ref _stopping, 1) != 0) return;
        try
        {
            if (_process.HasExited) return;
            var descendants = ProcessTree.Descendants(_process.Id);
            if (OperatingSystem.IsWindows())
            {
                _process.Kill(entireProcessTree: true);
                return;
            }
            _ = SendSignal(_process.Id, SigInt);
            foreach (var member in descendants) _ = SendSignal(member.ProcessId, SigInt);
            if (!_process.WaitForExit(grace)) _process.Kill(entireProcessTree: true);
            // The ids were read before the grace period: each is killed only if it is still the process listed then.
            foreach (var member in descendants) ProcessTree.Kill(member);
        }
        catch (InvalidOperationException)
        {
            // The process exited between the checks.
        }
    }

#if NET
    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);
#else
    // The net472 build runs in Visual Studio's MSBuild, on Windows, where this is never called.
    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);
#endif

    public void Dispose()
    {
        _process.Dispose();
        _stderr.Dispose();
    }
}
