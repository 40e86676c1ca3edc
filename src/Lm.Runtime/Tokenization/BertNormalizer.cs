using System.Globalization;
using System.Text;

namespace Lm.Runtime.Tokenization;

/// <summary>
/// BERT's text normalization as Hugging Face <c>tokenizers</c>' <c>BertNormalizer</c> does it, in its order:
/// drop NUL, U+FFFD and control/format characters and turn every whitespace character into a space
/// (<c>clean_text</c>); surround CJK ideographs with spaces (<c>handle_chinese_chars</c>); decompose and drop
/// non-spacing marks (<c>strip_accents</c>, which follows <c>lowercase</c> when unset); lower-case.
/// </summary>
internal sealed record BertNormalizer(bool CleanText, bool HandleChineseChars, bool? StripAccents, bool Lowercase)
{
    /// <summary>Whether accents are stripped: <c>strip_accents</c>, or <c>lowercase</c> when it is unset.</summary>
    public bool StripsAccents => StripAccents ?? Lowercase;

    public string Normalize(ReadOnlySpan<char> text)
    {
        var builder = new StringBuilder(text.Length + 8);
        for (int i = 0; i < text.Length; i++)
        {
            int width = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            int codePoint = width == 2 ? char.ConvertToUtf32(text[i], text[i + 1]) : text[i];
            ReadOnlySpan<char> chars = text.Slice(i, width);
            i += width - 1;
            if (CleanText)
            {
                if (codePoint is 0 or 0xFFFD || IsControl(codePoint))
                {
                    continue;
                }

                if (IsWhiteSpace(codePoint))
                {
                    builder.Append(' ');
                    continue;
                }
            }

            if (HandleChineseChars && IsChineseCharacter(codePoint))
            {
                builder.Append(' ').Append(chars).Append(' ');
                continue;
            }

            builder.Append(chars);
        }

        string result = builder.ToString();
        if (StripsAccents)
        {
            result = AccentStripper.StripAccents(result);
        }

        return Lowercase ? ToLower(result) : result;
    }

    /// <summary>tokenizers' <c>is_whitespace</c>: tab, line feed, carriage return, or Unicode White_Space.</summary>
    internal static bool IsWhiteSpace(int codePoint) => codePoint < 0x10000 && char.IsWhiteSpace((char)codePoint);

    /// <summary>tokenizers' <c>is_control</c>: any "C" category except tab, line feed and carriage return.</summary>
    private static bool IsControl(int codePoint)
    {
        if (codePoint is '\t' or '\n' or '\r')
        {
            return false;
        }

        return CharUnicodeInfo.GetUnicodeCategory(codePoint) is UnicodeCategory.Control or UnicodeCategory.Format
            or UnicodeCategory.OtherNotAssigned or UnicodeCategory.PrivateUse or UnicodeCategory.Surrogate;
    }

    private static bool IsChineseCharacter(int cp) =>
        cp is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF)
            or (>= 0x2A700 and <= 0x2B73F) or (>= 0x2B740 and <= 0x2B81F) or (>= 0x2B820 and <= 0x2CEAF)
            or (>= 0xF900 and <= 0xFAFF) or (>= 0x2F800 and <= 0x2FA1F);

    /// <summary>
    /// Rust's <c>char::to_lowercase</c>: the invariant mapping, plus U+0130 (İ), the one character whose
    /// unconditional lower case is two characters (i + combining dot above).
    /// </summary>
    private static string ToLower(string text) =>
        (text.Contains('\u0130') ? text.Replace("\u0130", "i\u0307", StringComparison.Ordinal) : text).ToLowerInvariant();
}
