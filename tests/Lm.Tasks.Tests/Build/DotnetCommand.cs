using System.Diagnostics;
using System.Text;
using Xunit.Abstractions;

namespace Lm.Tasks.Tests.Build;

/// <summary><c>dotnet</c> commands run in one folder as a user would run them: no MSBuild settings of the test host, no node reuse.</summary>
/// <param name="environment">Variables every command of this instance gets (a private NUGET_PACKAGES, say).</param>
internal sealed class DotnetCommand(string directory, ITestOutputHelper? log = null, IReadOnlyDictionary<string, string>? environment = null)
{
    /// <summary>Runs <c>dotnet ARGS</c> and asserts it succeeded; returns its output.</summary>
    public string Succeed(params string[] arguments)
    {
        var run = Run(arguments, environment);
        log?.WriteLine($"dotnet {string.Join(' ', arguments)}: {run.ExitCode} after {run.Elapsed.TotalSeconds:0.0} s");
        Assert.True(run.ExitCode == 0, $"dotnet {string.Join(' ', arguments)}\n{run}");
        return run.Output;
    }

    public DotnetRun Run(string[] arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        using var process = Process.Start(StartInfo(directory, arguments, environment))!;
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        var clock = Stopwatch.StartNew();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(TimeSpan.FromMinutes(8)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet {string.Join(" ", arguments)} did not finish:\n{output}");
        }
        process.WaitForExit();
        return new DotnetRun(process.ExitCode, output.ToString(), clock.Elapsed);
    }

    /// <summary>
    /// <c>dotnet ARGS</c> in <paramref name="directory"/>. MSBuild commands get node reuse off, so no node outlives
    /// the test; the test host's MSBuild variables (it runs under <c>dotnet test</c>) are removed; lm-tune's caches are
    /// the folder's own.
    /// </summary>
    public static ProcessStartInfo StartInfo(string directory, string[] arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var startInfo = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments) startInfo.ArgumentList.Add(argument);
        if (arguments.Length > 0 && arguments[0] is "build" or "restore" or "pack" or "clean" or "msbuild" or "publish")
            startInfo.ArgumentList.Add("-nodeReuse:false");
        foreach (string name in startInfo.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
            startInfo.Environment.Remove(name);
        startInfo.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        startInfo.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        startInfo.Environment["DOTNET_NOLOGO"] = "1";
        startInfo.Environment["DOTNET_CLI_UI_LANGUAGE"] = "en";
        // A build that fine-tunes runs lm-tune: its caches (token cache, patched native bridge) and HF_HOME are this
        // test's, under its obj/, not the user's, which test projects running in parallel would share and change.
        startInfo.Environment["LM_TUNE_CACHE"] = Path.Combine(directory, "obj", "lm-tune-cache");
        startInfo.Environment["HF_HOME"] = Path.Combine(directory, "obj", "hf-home");
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) startInfo.Environment[name] = value;
        return startInfo;
    }
}
