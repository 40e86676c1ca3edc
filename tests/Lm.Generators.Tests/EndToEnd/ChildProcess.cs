using System.Diagnostics;

namespace Lm.Generators.Tests.EndToEnd;

/// <summary>Runs a child process to its end or its time limit, whichever comes first.</summary>
internal static class ChildProcess
{
    /// <summary>
    /// Starts <paramref name="start"/> (streams redirected) and returns its exit code and stdout + stderr. Both streams
    /// are read while the process runs, so a full pipe cannot block it and the time limit fires even when the child
    /// hangs; past the limit the whole process tree is killed and the test fails.
    /// </summary>
    public static (int ExitCode, string Output) Run(ProcessStartInfo start, TimeSpan timeout)
    {
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"{start.FileName} {start.Arguments} did not finish in {timeout.TotalMinutes:0.#} minutes");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
