using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Lm.Runtime.Tokenization.TokenizerJson;

/// <summary>
/// A piece of normalized text on its way to the model. <see cref="AtStart"/>: the piece begins at the start of the
/// original text (tokenizers' <c>offsets_original().0 == 0</c>), which Metaspace's <c>prepend_scheme: first</c> asks.
/// </summary>
internal readonly record struct PreToken(string Text, bool AtStart);

/// <summary>tokenizers' <c>SplitDelimiterBehavior</c>: what happens to the matched delimiters when text is split.</summary>
internal enum SplitBehavior
{
    Removed,
    Isolated,
    MergedWithPrevious,
    MergedWithNext,
    Contiguous,
}

/// <summary>A tokenizer.json <c>pre_tokenizer</c>: cuts normalized text into the pieces the model sees one at a time.</summary>
internal abstract class PreTokenizer
{
    /// <summary>Splits every piece of <paramref name="pieces"/> in place.</summary>
    public void PreTokenize(List<PreToken> pieces)
    {
        var output = new List<PreToken>(pieces.Count * 2);
        foreach (PreToken piece in pieces)
        {
            Split(piece, output);
        }

        pieces.Clear();
        pieces.AddRange(output);
    }

    /// <summary>Appends the non-empty pieces <paramref name="piece"/> splits into.</summary>
    public abstract void Split(PreToken piece, List<PreToken> output);

    public static PreTokenizer? Read(JsonNode? node, string path)
    {
        if (node is null)
        {
            return null;
        }

        const string Part = "pre_tokenizer";
        string type = TokenizerJsonValues.Type(node, path, Part);
        return type switch
        {
            "ByteLevel" => new ByteLevelPreTokenizer(
                TokenizerJsonValues.Bool(node, "add_prefix_space") ?? true,
                TokenizerJsonValues.Bool(node, "use_regex") ?? true),
            "Split" => new SplitPreTokenizer(
                TokenizerJsonValues.ReadPattern(node["pattern"], path, Part),
                TokenizerJsonValues.Behavior(node, path, Part, SplitBehavior.Removed),
                TokenizerJsonValues.Bool(node, "invert") ?? false),
            "Metaspace" => new MetaspacePreTokenizer(
                TokenizerJsonValues.Character(node, "replacement", path, Part, "▁"),
                MetaspacePreTokenizer.ReadPrependScheme(node, path),
                TokenizerJsonValues.Bool(node, "split") ?? true),
            "Whitespace" => new CharacterClassPreTokenizer(CharacterClassPreTokenizer.Kind.Whitespace),
            "WhitespaceSplit" => new CharacterClassPreTokenizer(CharacterClassPreTokenizer.Kind.WhitespaceSplit),
            "BertPreTokenizer" => new CharacterClassPreTokenizer(CharacterClassPreTokenizer.Kind.Bert),
            "Punctuation" => new PredicatePreTokenizer(
                CharacterClasses.IsPunctuation, TokenizerJsonValues.Behavior(node, path, Part, SplitBehavior.Isolated)),
            "Digits" => new PredicatePreTokenizer(
                CharacterClasses.IsNumeric,
                TokenizerJsonValues.Bool(node, "individual_digits") == true ? SplitBehavior.Isolated : SplitBehavior.Contiguous),
            "CharDelimiterSplit" => new PredicatePreTokenizer(
                DelimiterPredicate(TokenizerJsonValues.Character(node, "delimiter", path, Part, " ")), SplitBehavior.Removed),
            "Sequence" => new SequencePreTokenizer(
                TokenizerJsonValues.Array(node, "pretokenizers", path, Part).Select(step => Read(step, path)!).ToArray()),
            _ => throw TokenizerJsonValues.Unsupported(path, Part, type),
        };
    }

    private static Func<int, bool> DelimiterPredicate(string delimiter)
    {
        int codePoint = char.ConvertToUtf32(delimiter, 0);
        return c => c == codePoint;
    }

    /// <summary>
    /// tokenizers' <c>NormalizedString::split</c>: <paramref name="matches"/> (sorted, non-overlapping) are the
    /// delimiters, or with <paramref name="invert"/> the pieces to keep; <paramref name="behavior"/> says where the
    /// delimiters go. Empty pieces are dropped, as tokenizers drops them.
    /// </summary>
    public static void SplitOnMatches(
        PreToken piece, IReadOnlyList<(int Start, int End)> matches, SplitBehavior behavior, bool invert, List<PreToken> output)
    {
        string text = piece.Text;
        var spans = new List<(int Start, int End, bool IsMatch)>(matches.Count * 2 + 1);
        int previous = 0;
        foreach ((int start, int end) in matches)
        {
            if (start != previous)
            {
                spans.Add((previous, start, invert));
            }

            spans.Add((start, end, !invert));
            previous = end;
        }

        if (previous != text.Length)
        {
            spans.Add((previous, text.Length, invert));
        }

        foreach ((int start, int end) in ApplyBehavior(spans, behavior))
        {
            if (end > start)
            {
                output.Add(new PreToken(text[start..end], piece.AtStart && start == 0));
            }
        }
    }

    private static List<(int Start, int End)> ApplyBehavior(List<(int Start, int End, bool IsMatch)> spans, SplitBehavior behavior)
    {
        var result = new List<(int Start, int End)>(spans.Count);
        switch (behavior)
        {
            case SplitBehavior.Isolated:
                result.AddRange(spans.Select(s => (s.Start, s.End)));
                break;
            case SplitBehavior.Removed:
                result.AddRange(spans.Where(s => !s.IsMatch).Select(s => (s.Start, s.End)));
                break;
            case SplitBehavior.MergedWithPrevious:
            {
                // A delimiter joins the piece before it (unless that piece was a delimiter too).
                bool previousMatch = false;
                foreach ((int start, int end, bool isMatch) in spans)
                {
                    if (isMatch && !previousMatch && result.Count > 0)
                    {
                        result[^1] = (result[^1].Start, end);
                    }
                    else
                    {
                        result.Add((start, end));
                    }

                    previousMatch = isMatch;
                }

                break;
            }

            case SplitBehavior.MergedWithNext:
            {
                // The same from the right: a delimiter joins the piece after it.
                bool previousMatch = false;
                for (int i = spans.Count - 1; i >= 0; i--)
                {
                    (int start, int end, bool isMatch) = spans[i];
                    if (isMatch && !previousMatch && result.Count > 0)
                    {
                        result[^1] = (start, result[^1].End);
                    }
                    else
                    {
                        result.Add((start, end));
                    }

                    previousMatch = isMatch;
                }

                result.Reverse();
                break;
            }

            case SplitBehavior.Contiguous:
            {
                // Runs of delimiters become one piece, runs of the rest another.
                bool previousMatch = false;
                foreach ((int start, int end, bool isMatch) in spans)
                {
                    if (isMatch == previousMatch && result.Count > 0)
                    {
                        result[^1] = (result[^1].Start, end);
                    }
                    else
                    {
                        result.Add((start, end));
                    }

                    previousMatch = isMatch;
                }

                break;
            }
        }

        return result;
    }

    /// <summary>Each code point satisfying <paramref name="predicate"/> as its own match (tokenizers' <c>Fn(char) -> bool</c> pattern).</summary>
    public static List<(int Start, int End)> CharacterMatches(string text, Func<int, bool> predicate)
    {
        var matches = new List<(int, int)>();
        for (int i = 0; i < text.Length;)
        {
            int width = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            if (predicate(width == 2 ? char.ConvertToUtf32(text[i], text[i + 1]) : text[i]))
            {
                matches.Add((i, i + width));
            }

            i += width;
        }

        return matches;
    }
}

/// <summary>
/// ByteLevel: optionally a space in front of each piece (<c>add_prefix_space</c>), optionally GPT-2's split
/// pattern (<c>use_regex</c>), then every piece spelled in GPT-2's byte alphabet.
/// </summary>
internal sealed class ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex) : PreTokenizer
{
    public bool AddPrefixSpace => addPrefixSpace;

    public bool UseRegex => useRegex;

    public override void Split(PreToken piece, List<PreToken> output)
    {
        string text = addPrefixSpace && !piece.Text.StartsWith(' ') ? " " + piece.Text : piece.Text;
        if (!useRegex)
        {
            output.Add(new PreToken(Spell(text), piece.AtStart));
            return;
        }

        // Gpt2PreTokenizer is GPT-2's pattern ('s|'t|…| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+) by hand;
        // its alternatives cover every character, so every piece is a match and Isolated keeps them all.
        for (int start = 0; start < text.Length;)
        {
            int length = Gpt2PreTokenizer.NextPieceLength(text, start);
            output.Add(new PreToken(Spell(text.Substring(start, length)), piece.AtStart && start == 0));
            start += length;
        }
    }

    private static string Spell(string text) => ByteLevelAlphabet.Spell(Encoding.UTF8.GetBytes(text));
}

/// <summary>Split: a string or regex pattern, one of the five behaviors, optionally inverted.</summary>
internal sealed class SplitPreTokenizer(OnigurumaRegex pattern, SplitBehavior behavior, bool invert) : PreTokenizer
{
    public override void Split(PreToken piece, List<PreToken> output) =>
        SplitOnMatches(piece, pattern.Matches(piece.Text), behavior, invert, output);
}

/// <summary>
/// Metaspace (SentencePiece): spaces become the replacement character (▁), which is put in front as
/// <c>prepend_scheme</c> says (always; first: only for the piece at the start of the text; never), then the text is
/// split before each ▁ when <c>split</c>.
/// </summary>
internal sealed class MetaspacePreTokenizer(string replacement, MetaspacePreTokenizer.PrependScheme prependScheme, bool split) : PreTokenizer
{
    public enum PrependScheme
    {
        Always,
        First,
        Never,
    }

    public override void Split(PreToken piece, List<PreToken> output)
    {
        string text = piece.Text.Replace(" ", replacement, StringComparison.Ordinal);
        bool prepend = prependScheme == PrependScheme.Always || (prependScheme == PrependScheme.First && piece.AtStart);
        if (prepend && !text.StartsWith(replacement, StringComparison.Ordinal))
        {
            text = replacement + text;
        }

        var replaced = piece with { Text = text };
        if (!split)
        {
            if (text.Length > 0)
            {
                output.Add(replaced);
            }

            return;
        }

        int replacementCodePoint = char.ConvertToUtf32(replacement, 0);
        SplitOnMatches(replaced, CharacterMatches(text, c => c == replacementCodePoint), SplitBehavior.MergedWithNext, invert: false, output);
    }

    /// <summary><c>prepend_scheme</c>, or for files older than it, <c>add_prefix_space</c> (true = always).</summary>
    public static PrependScheme ReadPrependScheme(JsonNode node, string path) => TokenizerJsonValues.OptionalString(node, "prepend_scheme") switch
    {
        "always" => PrependScheme.Always,
        "first" => PrependScheme.First,
        "never" => PrependScheme.Never,
        null => TokenizerJsonValues.Bool(node, "add_prefix_space") == false ? PrependScheme.Never : PrependScheme.Always,
        string other => throw TokenizerJsonValues.Malformed(path, $"has a Metaspace with the unknown prepend_scheme '{other}'"),
    };
}

/// <summary>Splits on code points that satisfy a predicate (Punctuation, Digits, CharDelimiterSplit).</summary>
internal sealed class PredicatePreTokenizer(Func<int, bool> predicate, SplitBehavior behavior) : PreTokenizer
{
    public override void Split(PreToken piece, List<PreToken> output) =>
        SplitOnMatches(piece, CharacterMatches(piece.Text, predicate), behavior, invert: false, output);
}

/// <summary>Whitespace (<c>\w+|[^\w\s]+</c>), WhitespaceSplit, and BERT's whitespace-then-punctuation split.</summary>
internal sealed class CharacterClassPreTokenizer(CharacterClassPreTokenizer.Kind kind) : PreTokenizer
{
    public enum Kind
    {
        Whitespace,
        WhitespaceSplit,
        Bert,
    }

    public override void Split(PreToken piece, List<PreToken> output)
    {
        switch (kind)
        {
            case Kind.Whitespace:
                SplitOnMatches(piece, Runs(piece.Text), SplitBehavior.Removed, invert: true, output);
                break;
            case Kind.WhitespaceSplit:
                SplitOnMatches(piece, CharacterMatches(piece.Text, CharacterClasses.IsWhiteSpace), SplitBehavior.Removed, invert: false, output);
                break;
            case Kind.Bert:
                var words = new List<PreToken>();
                SplitOnMatches(piece, CharacterMatches(piece.Text, CharacterClasses.IsWhiteSpace), SplitBehavior.Removed, invert: false, words);
                foreach (PreToken word in words)
                {
                    SplitOnMatches(word, CharacterMatches(word.Text, CharacterClasses.IsPunctuation), SplitBehavior.Isolated, invert: false, output);
                }

                break;
        }
    }

    /// <summary>The matches of the regex crate's <c>\w+|[^\w\s]+</c>: maximal runs of word characters or of symbols.</summary>
    private static List<(int Start, int End)> Runs(string text)
    {
        var matches = new List<(int, int)>();
        int runStart = -1;
        int runClass = 0;
        for (int i = 0; i <= text.Length;)
        {
            int width = 1;
            int cls = 0;
            if (i < text.Length)
            {
                width = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
                int codePoint = width == 2 ? char.ConvertToUtf32(text[i], text[i + 1]) : text[i];
                cls = CharacterClasses.IsWordCharacter(codePoint) ? 1 : CharacterClasses.IsWhiteSpace(codePoint) ? 0 : 2;
            }

            if (cls != runClass)
            {
                if (runClass != 0)
                {
                    matches.Add((runStart, i));
                }

                runStart = i;
                runClass = cls;
            }

            i += width;
        }

        return matches;
    }
}

internal sealed class SequencePreTokenizer(PreTokenizer[] steps) : PreTokenizer
{
    public override void Split(PreToken piece, List<PreToken> output)
    {
        var pieces = new List<PreToken> { piece };
        foreach (PreTokenizer step in steps)
        {
            step.PreTokenize(pieces);
        }

        output.AddRange(pieces);
    }
}

/// <summary>The character classes tokenizers' pre-tokenizers test, by code point.</summary>
internal static class CharacterClasses
{
    /// <summary>Rust's <c>char::is_whitespace</c> (White_Space), the same set as .NET's <c>char.IsWhiteSpace</c>.</summary>
    public static bool IsWhiteSpace(int codePoint) => codePoint < 0x10000 && char.IsWhiteSpace((char)codePoint);

    /// <summary>ASCII punctuation or a Unicode P category (<c>is_bert_punc</c>, <c>is_punc</c>).</summary>
    public static bool IsPunctuation(int codePoint) => WordPieceModel.IsPunctuation(codePoint);

    /// <summary>Rust's <c>char::is_numeric</c>: Nd, Nl or No.</summary>
    public static bool IsNumeric(int codePoint) => CharUnicodeInfo.GetUnicodeCategory(codePoint)
        is UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber;

    /// <summary>
    /// The regex crate's Unicode <c>\w</c>: Alphabetic, marks, decimal digits, connector punctuation and the join
    /// controls. Alphabetic is the letters and letter numbers plus the circled and squared Latin letters.
    /// </summary>
    public static bool IsWordCharacter(int codePoint)
    {
        UnicodeCategory category = CharUnicodeInfo.GetUnicodeCategory(codePoint);
        return category is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter or UnicodeCategory.LetterNumber
                or UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark
                or UnicodeCategory.DecimalDigitNumber or UnicodeCategory.ConnectorPunctuation
            || codePoint is 0x200C or 0x200D
            || codePoint is >= 0x24B6 and <= 0x24E9
            || codePoint is >= 0x1F130 and <= 0x1F149 or >= 0x1F150 and <= 0x1F169 or >= 0x1F170 and <= 0x1F189;
    }
}
