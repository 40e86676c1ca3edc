using System.Buffers;

namespace Lm.Runtime.Tokenization;

/// <summary>
/// Finds added tokens in text as Hugging Face <c>tokenizers</c>' <c>AddedVocabulary</c> does: leftmost match
/// first, the longest token where several start at the same place, <c>single_word</c> matches skipped inside
/// words, and <c>lstrip</c>/<c>rstrip</c> widening a match over the whitespace next to it.
/// </summary>
internal sealed class AddedTokenSplitter
{
    private readonly (string Pattern, AddedToken Token)[] _longestFirst;
    private readonly SearchValues<string>? _search;

    /// <param name="tokens">Tokens to find.</param>
    /// <param name="pattern">What to search for per token (its normalized content for normalized tokens).</param>
    public AddedTokenSplitter(IEnumerable<AddedToken> tokens, Func<AddedToken, string> pattern)
    {
        _longestFirst = tokens
            .Select(token => (Pattern: pattern(token), Token: token))
            .Where(entry => entry.Pattern.Length > 0)
            .OrderByDescending(entry => entry.Pattern.Length)
            .ThenBy(entry => entry.Token.Id)
            .ToArray();
        _search = _longestFirst.Length == 0
            ? null
            : SearchValues.Create(_longestFirst.Select(entry => entry.Pattern).Distinct(StringComparer.Ordinal).ToArray(), StringComparison.Ordinal);
    }

    public bool IsEmpty => _search is null;

    /// <summary>
    /// Finds the next added token at or after <paramref name="searchFrom"/>. The match, widened by its strip flags,
    /// is [<paramref name="start"/>, <paramref name="end"/>); an lstrip never reaches back before
    /// <paramref name="segmentStart"/>, where the previous match ended.
    /// </summary>
    public bool TryFindNext(ReadOnlySpan<char> text, int segmentStart, int searchFrom, out int start, out int end, out AddedToken token)
    {
        while (_search is not null && searchFrom < text.Length)
        {
            int found = text[searchFrom..].IndexOfAny(_search);
            if (found < 0)
            {
                break;
            }

            int matchStart = searchFrom + found;
            (string pattern, AddedToken candidate) = LongestAt(text, matchStart);
            int matchEnd = matchStart + pattern.Length;
            if (candidate.SingleWord && (EndsWithWordCharacter(text[..matchStart]) || StartsWithWordCharacter(text[matchEnd..])))
            {
                searchFrom = matchEnd;
                continue;
            }

            start = matchStart;
            end = matchEnd;
            if (candidate.LStrip)
            {
                while (start > segmentStart && char.IsWhiteSpace(text[start - 1]))
                {
                    start--;
                }
            }

            if (candidate.RStrip)
            {
                while (end < text.Length && char.IsWhiteSpace(text[end]))
                {
                    end++;
                }
            }

            token = candidate;
            return true;
        }

        start = end = text.Length;
        token = null!;
        return false;
    }

    private (string Pattern, AddedToken Token) LongestAt(ReadOnlySpan<char> text, int index)
    {
        foreach (var entry in _longestFirst)
        {
            if (text[index..].StartsWith(entry.Pattern, StringComparison.Ordinal))
            {
                return entry;
            }
        }

        throw new InvalidOperationException("SearchValues reported a match that no added token starts.");
    }

    private static bool EndsWithWordCharacter(ReadOnlySpan<char> text) =>
        !text.IsEmpty && IsWordCharacter(text[^1]);

    private static bool StartsWithWordCharacter(ReadOnlySpan<char> text) =>
        !text.IsEmpty && IsWordCharacter(text[0]);

    private static bool IsWordCharacter(char c) => char.IsLetterOrDigit(c) || c == '_';
}
