using System.Text.RegularExpressions;

namespace Lm.Tasks.Tooling;

/// <summary>How a line lm-tune writes to stderr is reported in the build log.</summary>
internal enum ToolLineKind { Phase, Step, Warning, Error }

/// <summary>
/// One stderr line of lm-tune, classified: <c>error LM####: …</c> and <c>warning LM####: …</c> (optionally preceded
/// by <c>file(line,col): </c>, MSBuild's canonical form; the code may be missing, <c>error: …</c>) become build errors
/// and warnings; per-step progress (lm-tune's <c>train: 120 loss=3.2 …</c> detail lines, Hugging Face's log
/// dictionaries <c>{'loss': …}</c>, progress bars) is detailed; anything else (<c>train: 500 steps</c>,
/// <c>train: done in 80 s</c>) is a phase line at normal verbosity.
/// </summary>
internal sealed partial record ToolLogLine(ToolLineKind Kind, string Text, string? Code = null, string? File = null, int Line = 0, int Column = 0)
{
    private const string DiagnosticPattern = @"^(?:(?<file>[^\s(][^(]*?)(?:\((?<line>\d+)(?:,(?<col>\d+))?\))?\s*:\s*)?(?<kind>error|warning)(?:\s+(?<code>LM\d{4}))?\s*:\s*(?<message>.*)$";
    private const string StepProgressPattern = @"^\s*(?:\{['""]|\[?step\s+\d+|\d+/\d+\b|\d+%\||[A-Za-z][\w -]*: \d+(?:$| (?!steps$)))";

#if NET
    [GeneratedRegex(DiagnosticPattern)]
    private static partial Regex Diagnostic();

    [GeneratedRegex(StepProgressPattern, RegexOptions.IgnoreCase)]
    private static partial Regex StepProgress();
#else
    // The net472 build (Visual Studio's MSBuild) has no regex source generator.
    private static readonly Regex DiagnosticRegex = new(DiagnosticPattern, RegexOptions.Compiled);
    private static readonly Regex StepProgressRegex = new(StepProgressPattern, RegexOptions.Compiled | RegexOptions.IgnoreCase);

    private static Regex Diagnostic() => DiagnosticRegex;

    private static Regex StepProgress() => StepProgressRegex;
#endif

    public static ToolLogLine Parse(string line)
    {
        var match = Diagnostic().Match(line);
        if (match.Success)
        {
            return new ToolLogLine(
                match.Groups["kind"].Value == "error" ? ToolLineKind.Error : ToolLineKind.Warning,
                match.Groups["message"].Value,
                match.Groups["code"].Success ? match.Groups["code"].Value : null,
                match.Groups["file"].Success ? match.Groups["file"].Value.Trim() : null,
                match.Groups["line"].Success ? int.Parse(match.Groups["line"].Value, System.Globalization.CultureInfo.InvariantCulture) : 0,
                match.Groups["col"].Success ? int.Parse(match.Groups["col"].Value, System.Globalization.CultureInfo.InvariantCulture) : 0);
        }
        return new ToolLogLine(StepProgress().IsMatch(line) ? ToolLineKind.Step : ToolLineKind.Phase, line);
    }
}
