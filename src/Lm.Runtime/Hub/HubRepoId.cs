using Lm.Runtime.Errors;
using Lm.Runtime.Files;

namespace Lm.Runtime.Hub;

/// <summary>huggingface_hub's <c>validate_repo_id</c>: <c>name</c> or <c>namespace/name</c>.</summary>
public static class HubRepoId
{
    /// <summary>
    /// Returns <paramref name="repoId"/> when it is a repository id the hub accepts: one or two parts of letters,
    /// digits, <c>-</c>, <c>_</c> and <c>.</c>, each beginning and ending with a letter, digit or <c>_</c>, the name at
    /// most 96 characters, no <c>--</c> or <c>..</c>, no <c>.git</c> ending; LM0546 naming <paramref name="what"/> otherwise.
    /// </summary>
    public static string Require(string repoId, string what)
    {
        string[] parts = repoId.Split('/');
        string? problem =
            parts.Length > 2 ? "it has more than one '/'"
            : parts.Any(p => p.Length == 0) ? "a part is empty"
            : parts[^1].Length > 96 ? "the name is longer than 96 characters"
            : parts.Any(p => !p.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')) ? "only letters, digits, '-', '_' and '.' are allowed"
            : parts.Any(p => !IsWordChar(p[0]) || !IsWordChar(p[^1])) ? "a part begins or ends with '-' or '.'"
            : repoId.Contains("--", StringComparison.Ordinal) || repoId.Contains("..", StringComparison.Ordinal) ? "it holds '--' or '..'"
            : repoId.EndsWith(".git", StringComparison.Ordinal) ? "it ends with '.git'"
            : null;
        if (problem is not null)
            throw new LmException(ErrorCodes.InvalidHubModelId,
                $"{what} '{SafePath.Printable(repoId)}' is not a hub repository id ({problem}); use 'name' or 'org/name'");
        return repoId;
    }

    private static bool IsWordChar(char c) => char.IsAsciiLetterOrDigit(c) || c == '_';
}
