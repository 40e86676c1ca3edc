using System.Text;
using System.Text.RegularExpressions;

namespace Lm.Runtime.Hub;

/// <summary>
/// The files of a folder that huggingface_hub's <c>upload_folder</c> sends: every file below it, in
/// <c>sorted(folder.glob("**/*"))</c> order, named by its <c>/</c>-separated relative path, less those an ignore
/// pattern matches (<c>filter_repo_objects</c>: Python's <c>fnmatch</c>, where <c>*</c> crosses <c>/</c>, and a
/// pattern ending in <c>/</c> means everything below), and less the git and cache folders upload_folder always leaves out.
/// </summary>
public static class HubFolderFilter
{
    /// <summary>huggingface_hub's <c>DEFAULT_IGNORE_PATTERNS</c>, added to every upload_folder's own.</summary>
    public static readonly IReadOnlyList<string> DefaultIgnorePatterns =
    [
        ".git", ".git/*", "*/.git", "**/.git/**", ".cache/huggingface", ".cache/huggingface/*", "*/.cache/huggingface", "**/.cache/huggingface/**",
    ];

    /// <summary>The files to upload: (path in the repository, local path), <paramref name="pathInRepo"/> prefixed when set.</summary>
    public static IReadOnlyList<HubUploadFile> Files(string folder, IEnumerable<string> ignorePatterns, string? pathInRepo = null)
    {
        var patterns = ignorePatterns.Concat(DefaultIgnorePatterns).Select(Compile).ToList();
        string prefix = string.IsNullOrEmpty(pathInRepo) ? "" : pathInRepo.TrimEnd('/') + "/";
        return Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Select(file => (Relative: Path.GetRelativePath(folder, file).Replace(Path.DirectorySeparatorChar, '/'), File: file))
            .Where(f => !patterns.Any(p => p.IsMatch(f.Relative)))
            .OrderBy(f => f.Relative.Split('/'), PartsComparer.Instance)
            .Select(f => new HubUploadFile(prefix + f.Relative, f.File))
            .ToList();
    }

    /// <summary>Whether <paramref name="path"/> matches <paramref name="pattern"/> as Python's <c>fnmatch</c> (case-sensitive, as on POSIX).</summary>
    public static bool Matches(string path, string pattern) => Compile(pattern).IsMatch(path);

    private static Regex Compile(string pattern)
    {
        if (pattern.EndsWith('/')) pattern += "*";
        var regex = new StringBuilder("^");
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            if (c == '*') regex.Append("[\\s\\S]*");
            else if (c == '?') regex.Append("[\\s\\S]");
            else if (c == '[' && SetEnd(pattern, i) is int close)
            {
                // fnmatch: [seq] and [!seq]; a ']' right after '[' or '[!' belongs to the set.
                string set = pattern[(i + 1)..close];
                regex.Append('[').Append(set.StartsWith('!') ? "^" + Regex.Escape(set[1..]) : Regex.Escape(set)).Append(']');
                i = close;
            }
            else regex.Append(Regex.Escape(c.ToString()));
        }
        return new Regex(regex.Append('$').ToString(), RegexOptions.CultureInvariant);
    }

    /// <summary>Where the set opened at <paramref name="open"/> closes; null when it does not (then '[' is literal).</summary>
    private static int? SetEnd(string pattern, int open)
    {
        int j = open + 1;
        if (j < pattern.Length && pattern[j] == '!') j++;
        if (j < pattern.Length && pattern[j] == ']') j++;
        int close = pattern.IndexOf(']', j);
        return close < 0 ? null : close;
    }

    /// <summary>pathlib's order: part by part, ordinal.</summary>
    private sealed class PartsComparer : IComparer<string[]>
    {
        public static readonly PartsComparer Instance = new();

        public int Compare(string[]? a, string[]? b)
        {
            for (int i = 0; i < Math.Min(a!.Length, b!.Length); i++)
            {
                int c = string.CompareOrdinal(a[i], b[i]);
                if (c != 0) return c;
            }
            return a.Length.CompareTo(b.Length);
        }
    }
}

/// <summary>One file of a commit: where it goes in the repository and where its bytes are.</summary>
public sealed record HubUploadFile(string PathInRepo, string LocalPath);
