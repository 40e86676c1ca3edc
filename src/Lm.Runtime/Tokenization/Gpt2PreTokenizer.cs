using System.Globalization;
using System.Runtime.CompilerServices;

namespace Lm.Runtime.Tokenization;

/// <summary>
/// Splits text into the pieces GPT-2's byte-level BPE encodes one at a time, exactly as the pattern
/// <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c> does in Python's
/// <c>regex</c> module and in Hugging Face <c>tokenizers</c>.
/// </summary>
/// <remarks>
/// Hand-written rather than a .NET <see cref="System.Text.RegularExpressions.Regex"/> for two reasons: .NET
/// matches UTF-16 code units, so a letter outside the Basic Multilingual Plane (𝐀, 𠀀) would not count as
/// <c>\p{L}</c>; and the scanner allocates nothing, which the data pipeline's throughput depends on.
/// </remarks>
internal static class Gpt2PreTokenizer
{
    private enum CharClass : byte
    {
        Letter,
        Number,
        WhiteSpace,
        Other,
    }

    private static readonly CharClass[] s_ascii = BuildAsciiClasses();

    /// <summary>Length in UTF-16 code units of the piece that starts at <paramref name="start"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int NextPieceLength(ReadOnlySpan<char> text, int start)
    {
        char first = text[start];
        if (first == '\'' && start + 1 < text.Length)
        {
            int contraction = ContractionLength(text, start);
            if (contraction > 0)
            {
                return contraction;
            }
        }

        CharClass cls = Classify(text, start, out int width);
        if (first == ' ' && start + 1 < text.Length)
        {
            CharClass next = Classify(text, start + 1, out _);
            if (next != CharClass.WhiteSpace)
            {
                // " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+": the space joins the run that follows it.
                return 1 + RunLength(text, start + 1, next);
            }
        }

        if (cls != CharClass.WhiteSpace)
        {
            return width + RunLength(text, start + width, cls);
        }

        // "\s+(?!\S)" keeps the last whitespace character for the word that follows; a single whitespace
        // character before a word falls through to "\s+".
        int runEnd = start + width + RunLength(text, start + width, CharClass.WhiteSpace);
        if (runEnd == text.Length)
        {
            return runEnd - start;
        }

        int lastWidth = char.IsLowSurrogate(text[runEnd - 1]) ? 2 : 1;
        int withoutLast = runEnd - lastWidth - start;
        return withoutLast > 0 ? withoutLast : runEnd - start;
    }

    private static int ContractionLength(ReadOnlySpan<char> text, int start)
    {
        char a = text[start + 1];
        if (a is 's' or 't' or 'm' or 'd')
        {
            return 2;
        }

        if (start + 2 < text.Length)
        {
            char b = text[start + 2];
            if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
            {
                return 3;
            }
        }

        return 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int RunLength(ReadOnlySpan<char> text, int from, CharClass cls)
    {
        int i = from;
        while (i < text.Length && Classify(text, i, out int width) == cls)
        {
            i += width;
        }

        return i - from;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static CharClass Classify(ReadOnlySpan<char> text, int index, out int width)
    {
        char c = text[index];
        width = 1;
        if (c < 128)
        {
            return s_ascii[c];
        }

        if (char.IsHighSurrogate(c) && index + 1 < text.Length && char.IsLowSurrogate(text[index + 1]))
        {
            width = 2;
            return FromCategory(CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(c, text[index + 1])));
        }

        // White_Space has no member outside the BMP, so char.IsWhiteSpace decides it here.
        return char.IsWhiteSpace(c) ? CharClass.WhiteSpace : FromCategory(CharUnicodeInfo.GetUnicodeCategory(c));
    }

    private static CharClass FromCategory(UnicodeCategory category) => category switch
    {
        UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => CharClass.Letter,
        UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber
            => CharClass.Number,
        UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
            => CharClass.WhiteSpace,
        _ => CharClass.Other,
    };

    private static CharClass[] BuildAsciiClasses()
    {
        var classes = new CharClass[128];
        for (int c = 0; c < 128; c++)
        {
            classes[c] = char.IsAsciiLetter((char)c) ? CharClass.Letter
                : char.IsAsciiDigit((char)c) ? CharClass.Number
                : char.IsWhiteSpace((char)c) ? CharClass.WhiteSpace
                : CharClass.Other;
        }

        return classes;
    }
}
