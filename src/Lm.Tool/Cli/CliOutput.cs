using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lm.Runtime.Errors;

namespace Lm.Tool.Cli;

/// <summary>
/// Where one invocation writes. Results go to stdout (as one JSON object with <c>--json</c>, else as text);
/// logs, warnings, progress and errors go to stderr, so <c>lm-tune ... --json | jq</c> always parses.
/// </summary>
internal sealed class CliOutput
{
    // Text stays readable (é, –, ') rather than \u-escaped; the output is JSON for programs, not HTML.
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public CliOutput(TextWriter stdout, TextWriter stderr, bool json, Verbosity verbosity, bool verbose, bool interactive)
    {
        Out = stdout;
        Err = stderr;
        Json = json;
        Verbosity = verbosity;
        Verbose = verbose;
        Interactive = interactive;
    }

    /// <summary>stdout: results only.</summary>
    public TextWriter Out { get; }

    /// <summary>stderr: everything else.</summary>
    public TextWriter Err { get; }

    /// <summary><c>--json</c>: stdout carries exactly one JSON object.</summary>
    public bool Json { get; }

    public Verbosity Verbosity { get; }

    /// <summary><c>--verbose</c>: stack traces with errors.</summary>
    public bool Verbose { get; }

    /// <summary>stderr is a terminal and <c>CI</c> is not set: live progress bars and colour are allowed.</summary>
    public bool Interactive { get; }

    /// <summary>
    /// True when stderr is a terminal and no CI system is driving the process; redirected output and CI logs get
    /// plain lines without ANSI escapes.
    /// </summary>
    public static bool DetectInteractive() =>
        !Console.IsErrorRedirected
        && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI"))
        && !string.Equals(Environment.GetEnvironmentVariable("TERM"), "dumb", StringComparison.Ordinal);

    /// <summary>An informational line (normal verbosity and above).</summary>
    public void Info(string line)
    {
        if (Verbosity >= Verbosity.Normal) Err.WriteLine(line);
    }

    /// <summary>A line shown only at detailed verbosity.</summary>
    public void Detail(string line)
    {
        if (Verbosity >= Verbosity.Detailed) Err.WriteLine(line);
    }

    /// <summary>A line for minimal verbosity and above (phase summaries).</summary>
    public void Summary(string line)
    {
        if (Verbosity >= Verbosity.Minimal) Err.WriteLine(line);
    }

    public void Warning(string message)
    {
        if (Verbosity >= Verbosity.Minimal) Err.WriteLine("warning: " + message);
    }

    /// <summary>
    /// Prints an error as <c>error LM####: message</c>, preceded by MSBuild's <c>file(line): </c> when the error is
    /// about a file (so a build shows it at that file); with <c>--json</c> stdout also gets <c>{"error": {...}}</c>.
    /// </summary>
    /// <param name="json">false when the command puts the error into its own (single) JSON result.</param>
    public void Error(string? code, string message, Exception? detail = null, bool json = true)
    {
        var about = detail as LmException;
        string location = about?.File is null ? "" : about.Line is int line ? $"{about.File}({line}): " : $"{about.File}: ";
        Err.WriteLine(location + (code is null ? $"error: {message}" : $"error {code}: {message}"));
        if (Verbose)
        {
            // LmException's ToString is its message alone: print the chain with stack traces explicitly.
            for (var e = detail; e is not null; e = e.InnerException)
                Err.WriteLine($"{e.GetType().FullName}: {e.Message}{Environment.NewLine}{e.StackTrace}");
        }
        if (Json && json)
        {
            WriteJson(new JsonObject
            {
                ["error"] = new JsonObject { ["code"] = code, ["message"] = message, ["file"] = about?.File, ["line"] = about?.Line },
            });
        }
    }

    /// <summary>Writes a command's result: the JSON object with <c>--json</c>, else the text rendering.</summary>
    public void Result(CommandResult result)
    {
        if (Json) WriteJson(result.Json);
        else result.WriteText(Out);
    }

    private void WriteJson(JsonObject value)
    {
        Out.WriteLine(value.ToJsonString(Indented));
        Out.Flush();
    }
}

/// <summary>What a command produced: the JSON object (documented keys, see docs/cli.md) and how to show it as text.</summary>
/// <param name="ExitCode">0 unless the command reports a failure it has already printed (doctor finding a broken install).</param>
internal sealed record CommandResult(JsonObject Json, Action<TextWriter> WriteText, int ExitCode = ExitCodes.Success);
