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

    /// <summary>lm-tune's cache (token cache, patched native bridge) for this test run only.</summary>
    private static readonly Lazy<string> Cache = new(() => Directory.CreateTempSubdirectory("lm-tool-cache-").FullName);

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
        int timeoutSeconds = 300)
    {
        using var process = Process.Start(StartInfo(args, environment, workingDirectory))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(timeoutSeconds)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"lm-tune {string.Join(' ', args)} ran longer than {timeoutSeconds} s");
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
        start.Environment["HF_HOME"] = Path.Combine(Path.GetTempPath(), "lm-tune-tests-hf-home");
        start.Environment["OMP_NUM_THREADS"] = "1";
        start.Environment["LM_TUNE_CACHE"] = Cache.Value;
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
