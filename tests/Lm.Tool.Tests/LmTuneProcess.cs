using System.Diagnostics;
using System.Reflection;
using System.Text.Json.Nodes;

namespace Lm.Tool.Tests;

/// <summary>Runs the built <c>lm-tune</c> executable with redirected streams, as CI and the MSBuild task do.</summary>
internal static class LmTuneProcess
{
    private static string Metadata(string key) =>
        typeof(LmTuneProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;

    /// <summary>The apphost next to the built lm-tune.dll.</summary>
    public static string Executable => Path.ChangeExtension(Metadata("LmToolDll"), OperatingSystem.IsWindows() ? ".exe" : null);

    public static string RepoRoot => Metadata("LmRepoRoot");

    /// <summary>This test run's folder for the per-class caches.</summary>
    private static readonly Lazy<string> RunFolder = new(() => Directory.CreateTempSubdirectory("lm-tool-cache-").FullName);

    /// <summary>
    /// lm-tune's cache (token cache, patched native bridge) and <c>HF_HOME</c> of one test class. xunit runs test
    /// classes in parallel and tests of a class one after another, so a folder per class means no two lm-tune
    /// processes that share a cache run at the same time (a shared cache made tests depend on each other's timing).
    /// </summary>
    private static string ClassFolder(string kind) =>
        Directory.CreateDirectory(Path.Combine(RunFolder.Value, CallingTestClass(), kind)).FullName;

    /// <summary>The test class on the call stack (the class declaring a [Fact]/[Theory] method), or "shared" for fixtures.</summary>
    private static string CallingTestClass()
    {
        foreach (var frame in new StackTrace().GetFrames())
        {
            var type = frame.GetMethod()?.DeclaringType;
            // Async and lambda bodies run in compiler-generated nested types; the test class encloses them.
            while (type is { DeclaringType: not null } && type.Name.StartsWith('<')) type = type.DeclaringType;
            if (type is null || type.Assembly != typeof(LmTuneProcess).Assembly) continue;
            if (type.GetMethods().Any(m => m.IsDefined(typeof(FactAttribute), inherit: true))) return type.Name;
        }
        return "shared";
    }

    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public JsonObject Json => JsonNode.Parse(Stdout)!.AsObject();

        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
    }

    /// <summary>
    /// Runs lm-tune with <paramref name="args"/> in <paramref name="workingDirectory"/>; the hub is pointed at a
    /// dead address and the caches at a private folder unless <paramref name="environment"/> says otherwise.
    /// </summary>
    public static Result Run(IEnumerable<string> args, IDictionary<string, string?>? environment = null, string? workingDirectory = null,
        int timeoutSeconds = 300) =>
        Run(StartInfo(args, environment, workingDirectory), timeoutSeconds);

    /// <summary>
    /// Runs a prepared start (from <see cref="StartInfo"/>, perhaps with another executable) to its end or
    /// <paramref name="timeoutSeconds"/>: both streams are read while it runs, so the time limit always fires.
    /// </summary>
    public static Result Run(ProcessStartInfo start, int timeoutSeconds = 300)
    {
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(timeoutSeconds)))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            throw new TimeoutException($"{start.FileName} {string.Join(' ', start.ArgumentList)} ran longer than {timeoutSeconds} s");
        }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    public static Result Run(params string[] args) => Run((IEnumerable<string>)args);

    /// <summary>How <see cref="Run(IEnumerable{string}, IDictionary{string, string?}?, string?, int)"/> starts lm-tune, for tests that talk to the process while it runs.</summary>
    public static ProcessStartInfo StartInfo(IEnumerable<string> args, IDictionary<string, string?>? environment = null, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(Executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (string arg in args) start.ArgumentList.Add(arg);
        start.Environment["HF_ENDPOINT"] = "http://127.0.0.1:1";
        start.Environment["HF_HOME"] = ClassFolder("hf-home");
        start.Environment["OMP_NUM_THREADS"] = "1";
        start.Environment["LM_TUNE_CACHE"] = ClassFolder("cache");
        start.Environment.Remove("CI");
        start.Environment.Remove("HF_TOKEN");
        start.Environment.Remove("HF_HUB_OFFLINE");
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null) start.Environment.Remove(key);
            else start.Environment[key] = value;
        }
        return start;
    }
}
