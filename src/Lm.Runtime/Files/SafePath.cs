using System.Diagnostics.CodeAnalysis;
using System.Text;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Files;

/// <summary>
/// Checks names that come from outside lm-tune (a hub server's answer, a JSON file, a flag) before they become part
/// of a path: such a name is data, and may only ever name something inside the folder it is joined to.
/// A <em>name</em> is one file or folder name; a <em>relative path</em> is names joined by <c>/</c>. Both refuse rooted
/// paths, <c>.</c> and <c>..</c> (and names of dots and spaces only, which Windows trims to them), empty segments,
/// backslashes, <c>:</c> (drive letters, alternate data streams), control characters (NUL included) and unpaired
/// UTF-16 surrogates. A violation is an <see cref="LmException"/> with code <see cref="ErrorCodes.UnsafePathName"/>
/// that shows the offending value; the check happens before anything is written.
/// </summary>
public static class SafePath
{
    /// <summary>The longest name most file systems store (255 UTF-8 bytes).</summary>
    public const int MaxNameBytes = 255;

    /// <summary>The longest relative path accepted (Linux's PATH_MAX).</summary>
    public const int MaxPathLength = 4096;

    /// <summary>Whether <paramref name="value"/> is a single safe file or folder name.</summary>
    public static bool IsName([NotNullWhen(true)] string? value) => NameProblem(value) is null;

    /// <summary>Whether <paramref name="value"/> is a safe <c>/</c>-separated relative path.</summary>
    public static bool IsRelativePath([NotNullWhen(true)] string? value) => RelativePathProblem(value) is null;

    /// <summary>Returns <paramref name="value"/> when it is a safe single name, else throws LM0520 naming it.</summary>
    /// <param name="value">The name as it came from outside.</param>
    /// <param name="what">Where the value came from, for the message (<c>"the hub's X-Repo-Commit"</c>).</param>
    public static string RequireName(string? value, string what) =>
        NameProblem(value) is { } problem ? throw Unsafe(value, what, problem) : value!;

    /// <summary>Returns <paramref name="value"/> when it is a safe relative path, else throws LM0520 naming it.</summary>
    /// <param name="value">The path as it came from outside, <c>/</c>-separated.</param>
    /// <param name="what">Where the value came from, for the message.</param>
    public static string RequireRelativePath(string? value, string what) =>
        RelativePathProblem(value) is { } problem ? throw Unsafe(value, what, problem) : value!;

    /// <summary>
    /// <paramref name="root"/> joined with the safe relative path <paramref name="relativePath"/> (LM0520 otherwise),
    /// checked once more after normalisation to lie strictly inside <paramref name="root"/>.
    /// </summary>
    public static string Combine(string root, string relativePath, string what)
    {
        RequireRelativePath(relativePath, what);
        string path = Path.Combine(root, relativePath.Replace('/', Path.DirectorySeparatorChar));
        if (!IsInside(root, path))
            throw Unsafe(relativePath, what, $"it leads outside {root}");
        return path;
    }

    /// <summary>
    /// Whether <paramref name="path"/> lies strictly inside <paramref name="root"/> once both are made absolute and
    /// normalised (<c>..</c> resolved). Symbolic links are not followed: this compares names, not what they point to.
    /// </summary>
    public static bool IsInside(string root, string path)
    {
        string fullRoot = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root)) + Path.DirectorySeparatorChar;
        string fullPath = Path.GetFullPath(path);
        var comparison = OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        return fullPath.Length > fullRoot.Length && fullPath.StartsWith(fullRoot, comparison);
    }

    /// <summary><paramref name="value"/> with control characters escaped, so that a hostile value cannot garble a message.</summary>
    public static string Printable(string? value)
    {
        if (value is null) return "(none)";
        var text = new StringBuilder(value.Length);
        foreach (char c in value)
        {
            if (char.IsControl(c) || char.IsSurrogate(c)) text.Append($"\\u{(int)c:x4}");
            else text.Append(c);
        }
        return text.ToString();
    }

    private static string? RelativePathProblem(string? value)
    {
        if (string.IsNullOrEmpty(value)) return "it is empty";
        if (value.Length > MaxPathLength) return $"it is longer than {MaxPathLength} characters";
        if (value[0] == '/') return "it is an absolute path";
        foreach (string segment in value.Split('/'))
        {
            if (NameProblem(segment) is { } problem)
                return segment.Length == 0 ? "it has an empty segment ('//' or a trailing '/')" : $"segment '{Printable(segment)}': {problem}";
        }
        return null;
    }

    private static string? NameProblem(string? value)
    {
        if (string.IsNullOrEmpty(value)) return "it is empty";
        if (value.Trim('.', ' ').Length == 0) return "it is made of dots and spaces only ('.', '..')";
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            if (char.IsControl(c)) return $"it holds the control character U+{(int)c:X4}";
            if (c == '/') return "it holds '/'";
            if (c == '\\') return "it holds '\\'";
            if (c == ':') return "it holds ':' (a drive letter or stream name on Windows)";
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1])) { i++; continue; }
            if (char.IsSurrogate(c)) return "it holds an unpaired UTF-16 surrogate";
        }
        if (Encoding.UTF8.GetByteCount(value) > MaxNameBytes) return $"it is longer than {MaxNameBytes} bytes";
        return null;
    }

    private static LmException Unsafe(string? value, string what, string problem) =>
        new(ErrorCodes.UnsafePathName,
            $"{what} '{Printable(value)}' cannot be used as a file name: {problem}. " +
            "a name that comes from a hub, a file or a flag must stay inside its folder");
}
