using Lm.Fuzz.Targets;
using Lm.Runtime.Errors;
using SharpFuzz;

namespace Lm.Fuzz;

/// <summary>
/// <c>Lm.Fuzz TARGET</c>: runs one target under afl-fuzz with SharpFuzz's out-of-process fork server: a child
/// process runs input after input (persistent mode, inputs from stdin) and is restarted only when it dies. The
/// in-process <c>Fuzzer.Run</c> lost its fork server at the first crash under afl++ 4.04c. <c>Lm.Fuzz TARGET FILE...</c>: runs files once each and prints their outcome, for
/// triage of what afl saved. An <see cref="LmException"/> is the expected answer to a bad file; anything else
/// escapes to SharpFuzz, which reports it to afl as a crash.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 0 || !FuzzTargets.All.TryGetValue(args[0], out FuzzTargets.Target? target))
        {
            Console.Error.WriteLine($"usage: Lm.Fuzz TARGET [FILE...]; targets: {string.Join(", ", FuzzTargets.All.Keys)}");
            return 2;
        }

        // Each process gets its own scratch folder (in memory when /dev/shm exists: the targets write files per input).
        string root = Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        string scratch = Path.Combine(root, $"lm-fuzz-{args[0]}-{Environment.ProcessId}");
        Directory.CreateDirectory(scratch);
        try
        {
            if (args.Length > 2 && args[1] == "--time") return Time(target, args[2..], scratch);
            if (args.Length > 1) return Replay(args[0], target, args[1..], scratch);
            Fuzzer.OutOfProcess.Run(stream =>
            {
                var input = new MemoryStream();
                stream.CopyTo(input);
                RunExpectingLmErrors(target, input.ToArray(), scratch);
            });
            return 0;
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    /// <summary>Runs the target; an LmException (other than the catch-all LM0599) is a clean rejection.</summary>
    private static void RunExpectingLmErrors(FuzzTargets.Target target, byte[] input, string scratch)
    {
        try
        {
            target(input, scratch);
        }
        catch (LmException e) when (e.Code != ErrorCodes.UnexpectedFailure)
        {
        }
    }

    /// <summary>Microseconds per run of each file without afl: what the target itself costs.</summary>
    private static int Time(FuzzTargets.Target target, string[] files, string scratch)
    {
        foreach (string file in files)
        {
            byte[] input = File.ReadAllBytes(file);
            for (int i = 0; i < 200; i++) RunExpectingLmErrors(target, input, scratch);
            const int runs = 2000;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            for (int i = 0; i < runs; i++) RunExpectingLmErrors(target, input, scratch);
            Console.WriteLine($"{file}: {clock.Elapsed.TotalMicroseconds / runs:F0} us per run");
        }
        return 0;
    }

    private static int Replay(string name, FuzzTargets.Target target, string[] files, string scratch)
    {
        int failures = 0;
        foreach (string file in files)
        {
            try
            {
                target(File.ReadAllBytes(file), scratch);
                Console.WriteLine($"{file}: ok");
            }
            catch (LmException e) when (e.Code != ErrorCodes.UnexpectedFailure)
            {
                Console.WriteLine($"{file}: {e.Code} {e.Message}");
            }
            catch (Exception e)
            {
                failures++;
                Console.WriteLine($"{file}: FINDING in {name}: {e}");
            }
        }
        return failures == 0 ? 0 : 1;
    }
}
