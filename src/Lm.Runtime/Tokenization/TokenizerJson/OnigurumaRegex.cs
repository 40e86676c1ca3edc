using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Tokenization.TokenizerJson;

/// <summary>
/// A regular expression from tokenizer.json, matched as Hugging Face <c>tokenizers</c> matches it with Oniguruma
/// (Ruby syntax, UTF-8): the pattern is translated to .NET's syntax once, and the text is matched code point by
/// code point.
/// </summary>
/// <remarks>
/// Two differences need work. Oniguruma has possessive quantifiers (<c>?+</c>, <c>*+</c>, <c>++</c>), which .NET
/// spells as atomic groups; and Oniguruma sees a character outside the BMP as one character with its own
/// category, where .NET sees two surrogates of category Cs — <c>\p{L}</c> would miss 𠀀 and <c>\p{N}{1,3}</c>
/// would count a surrogate pair as two. So the text is matched through a proxy in which every supplementary
/// character is replaced by one BMP character of the same general category, and match positions are mapped back.
/// Constructs whose meaning differs and that cannot be translated faithfully are refused with LM0240.
/// </remarks>
internal sealed class OnigurumaRegex
{
    private static readonly char[] s_categoryProxy = BuildCategoryProxies();

    private readonly Regex _regex;

    public OnigurumaRegex(string pattern, string source)
    {
        Pattern = pattern;
        string translated = Translate(pattern, source);
        try
        {
            // Ruby syntax: ^ and $ always match at line breaks.
            _regex = new Regex(translated, RegexOptions.Multiline | RegexOptions.CultureInvariant);
        }
        catch (ArgumentException e)
        {
            throw Untranslatable(source, pattern, e.Message);
        }
    }

    /// <summary>A regex that matches <paramref name="literal"/> exactly (tokenizers' <c>String</c> patterns).</summary>
    public static OnigurumaRegex ForLiteral(string literal) => new(literal, new Regex(Regex.Escape(literal), RegexOptions.CultureInvariant));

    private OnigurumaRegex(string pattern, Regex regex)
    {
        Pattern = pattern;
        _regex = regex;
    }

    /// <summary>The pattern as tokenizer.json gives it.</summary>
    public string Pattern { get; }

    /// <summary>The matches in <paramref name="text"/>, left to right, as (start, end) in UTF-16 positions.</summary>
    public List<(int Start, int End)> Matches(string text)
    {
        var matches = new List<(int, int)>();
        if (!HasSurrogates(text))
        {
            foreach (ValueMatch match in _regex.EnumerateMatches(text))
            {
                matches.Add((match.Index, match.Index + match.Length));
            }

            return matches;
        }

        // proxyToText[i] = position in text of proxy character i (one extra entry for the end).
        var proxy = new StringBuilder(text.Length);
        var proxyToText = new List<int>(text.Length + 1);
        for (int i = 0; i < text.Length; i++)
        {
            proxyToText.Add(i);
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                UnicodeCategory category = CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(text[i], text[i + 1]));
                proxy.Append(s_categoryProxy[(int)category]);
                i++;
            }
            else
            {
                proxy.Append(text[i]);
            }
        }

        proxyToText.Add(text.Length);
        foreach (ValueMatch match in _regex.EnumerateMatches(proxy.ToString()))
        {
            matches.Add((proxyToText[match.Index], proxyToText[match.Index + match.Length]));
        }

        return matches;
    }

    /// <summary>Replaces every match with <paramref name="content"/>, taken literally.</summary>
    public string Replace(string text, string content)
    {
        List<(int Start, int End)> matches = Matches(text);
        if (matches.Count == 0)
        {
            return text;
        }

        var result = new StringBuilder(text.Length);
        int last = 0;
        foreach ((int start, int end) in matches)
        {
            result.Append(text, last, start - last).Append(content);
            last = end;
        }

        return result.Append(text, last, text.Length - last).ToString();
    }

    private static bool HasSurrogates(string text)
    {
        foreach (char c in text)
        {
            if (char.IsSurrogate(c))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Rewrites Oniguruma (Ruby syntax) into .NET syntax: possessive quantifiers become atomic groups, <c>\x{…}</c>
    /// becomes <c>\u…</c>, Ruby's <c>(?m)</c> (dot matches newline) becomes .NET's <c>(?s)</c>. Everything else
    /// that both engines read alike is copied; what they read differently is refused.
    /// </summary>
    private static string Translate(string pattern, string source)
    {
        var output = new StringBuilder(pattern.Length + 16);

        // Where the atom a quantifier applies to starts in the output, and where each open group starts.
        int atomStart = -1;
        var groupStarts = new Stack<int>();
        int i = 0;
        while (i < pattern.Length)
        {
            char c = pattern[i];
            switch (c)
            {
                case '\\':
                    atomStart = output.Length;
                    i = CopyEscape(pattern, i, output, source, inClass: false);
                    continue;
                case '[':
                    atomStart = output.Length;
                    i = CopyClass(pattern, i, output, source);
                    continue;
                case '(':
                {
                    int groupStart = output.Length;
                    (i, bool closed) = CopyGroupOpening(pattern, i, output, source);
                    if (!closed)
                    {
                        groupStarts.Push(groupStart);
                    }

                    // An option switch such as (?i) is no atom: nothing can be quantified by what follows it.
                    atomStart = -1;
                    continue;
                }

                case ')':
                    if (groupStarts.Count == 0)
                    {
                        throw Untranslatable(source, pattern, "an unmatched ')'");
                    }

                    output.Append(')');
                    atomStart = groupStarts.Pop();
                    i++;
                    continue;
                case '?' or '*' or '+':
                {
                    int quantifierEnd = i + 1;
                    if (quantifierEnd < pattern.Length && pattern[quantifierEnd] == '+')
                    {
                        // Possessive: X?+ is (?>X?) in .NET.
                        if (atomStart < 0)
                        {
                            throw Untranslatable(source, pattern, "a possessive quantifier with nothing before it");
                        }

                        output.Insert(atomStart, "(?>").Append(c).Append(')');
                        i = quantifierEnd + 1;
                    }
                    else
                    {
                        output.Append(c);
                        i++;
                        if (i < pattern.Length && pattern[i] == '?')
                        {
                            output.Append('?');
                            i++;
                        }
                    }

                    atomStart = -1;
                    continue;
                }

                case '{':
                {
                    int close = pattern.IndexOf('}', i);
                    string body = close < 0 ? string.Empty : pattern[(i + 1)..close];
                    if (close < 0 || !IsInterval(body))
                    {
                        // Oniguruma, like .NET, reads a brace that opens no interval as a literal.
                        atomStart = output.Length;
                        output.Append("\\{");
                        i++;
                        continue;
                    }

                    output.Append(pattern, i, close - i + 1);
                    i = close + 1;
                    if (i < pattern.Length && pattern[i] == '+')
                    {
                        // In Ruby syntax X{n,m}+ is not possessive: it repeats X{n,m}.
                        output.Insert(atomStart < 0 ? output.Length : atomStart, "(?:").Append(')');
                    }
                    else if (i < pattern.Length && pattern[i] == '?')
                    {
                        output.Append('?');
                        i++;
                    }

                    atomStart = -1;
                    continue;
                }

                default:
                    atomStart = output.Length;
                    output.Append(c);
                    i++;
                    continue;
            }
        }

        if (groupStarts.Count > 0)
        {
            throw Untranslatable(source, pattern, "an unclosed '('");
        }

        return output.ToString();
    }

    private static bool IsInterval(string body) =>
        body.Length > 0 && body.All(ch => char.IsAsciiDigit(ch) || ch == ',') && body.Count(ch => ch == ',') <= 1 && body != ",";

    /// <summary>Copies a group's opening; <c>Closed</c> for an option switch like <c>(?i)</c>, which is complete in itself.</summary>
    private static (int Next, bool Closed) CopyGroupOpening(string pattern, int i, StringBuilder output, string source)
    {
        if (i + 1 >= pattern.Length || pattern[i + 1] != '?')
        {
            output.Append('(');
            return (i + 1, false);
        }

        // (?:  (?=  (?!  (?<=  (?<!  (?>  (?<name>  and option groups (?imx-imx) / (?imx-imx: …).
        string rest = pattern[(i + 2)..];
        foreach (string prefix in new[] { ":", "=", "!", "<=", "<!", ">" })
        {
            if (rest.StartsWith(prefix, StringComparison.Ordinal))
            {
                output.Append("(?").Append(prefix);
                return (i + 2 + prefix.Length, false);
            }
        }

        if (rest.StartsWith('<') || rest.StartsWith('\''))
        {
            char end = rest[0] == '<' ? '>' : '\'';
            int close = rest.IndexOf(end, 1);
            if (close > 1)
            {
                output.Append("(?<").Append(rest, 1, close - 1).Append('>');
                return (i + 2 + close + 1, false);
            }
        }

        int j = 0;
        var options = new StringBuilder();
        while (j < rest.Length && rest[j] is 'i' or 'm' or 'x' or '-')
        {
            // Ruby's m lets '.' match a newline: .NET's s.
            options.Append(rest[j] == 'm' ? 's' : rest[j]);
            j++;
        }

        if (j > 0 && j < rest.Length && rest[j] is ':' or ')')
        {
            output.Append("(?").Append(options).Append(rest[j]);
            return (i + 2 + j + 1, rest[j] == ')');
        }

        throw Untranslatable(source, pattern, $"the group '(?{rest[..Math.Min(rest.Length, 3)]}'");
    }

    private static int CopyEscape(string pattern, int i, StringBuilder output, string source, bool inClass)
    {
        if (i + 1 >= pattern.Length)
        {
            throw Untranslatable(source, pattern, "a trailing backslash");
        }

        char e = pattern[i + 1];
        switch (e)
        {
            case 'p' or 'P':
            {
                int close = pattern.IndexOf('}', i);
                if (i + 2 >= pattern.Length || pattern[i + 2] != '{' || close < 0)
                {
                    throw Untranslatable(source, pattern, $"'\\{e}' without a {{property}}");
                }

                string property = pattern[(i + 3)..close];
                bool negated = property.StartsWith('^');
                string name = negated ? property[1..] : property;
                if (!s_generalCategories.Contains(name))
                {
                    // Scripts (\p{Han}) and binary properties have no faithful .NET equivalent.
                    throw Untranslatable(source, pattern, $"the property '\\{e}{{{property}}}'");
                }

                output.Append('\\').Append(negated ? (e == 'p' ? 'P' : 'p') : e).Append('{').Append(name).Append('}');
                return close + 1;
            }

            case 'x' when i + 2 < pattern.Length && pattern[i + 2] == '{':
            {
                int close = pattern.IndexOf('}', i);
                int codePoint = close < 0 ? -1 : int.Parse(pattern[(i + 3)..close], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                if (codePoint is < 0 or > 0xFFFF || (codePoint >= 0xD800 && codePoint <= 0xDFFF))
                {
                    throw Untranslatable(source, pattern, "a character outside the Basic Multilingual Plane");
                }

                output.Append(CultureInfo.InvariantCulture, $"\\u{codePoint:X4}");
                return close + 1;
            }

            case 'd' or 'D' or 's' or 'S' or 'n' or 'r' or 't' or 'f' or 'v' or 'e' or 'a' or 'x' or 'u' or '0':
                output.Append('\\').Append(e);
                return i + 2;
            case 'w' or 'W':
                // Oniguruma's \w adds spacing marks (Mc) and enclosing marks (Me) to .NET's.
                output.Append(e == 'w'
                    ? (inClass ? @"\w\p{Mc}\p{Me}" : @"[\w\p{Mc}\p{Me}]")
                    : (inClass ? throw Untranslatable(source, pattern, "'\\W' inside a class") : @"[^\w\p{Mc}\p{Me}]"));
                return i + 2;
            case 'b' or 'B' or 'A' or 'z' or 'Z' or 'G' when !inClass:
                output.Append('\\').Append(e);
                return i + 2;
            case 'b' when inClass:
                output.Append("\\b");
                return i + 2;
            default:
                if (char.IsAsciiLetterOrDigit(e))
                {
                    // \h, \R, \X, \K, \k<…>, \g<…>, back references …: different or absent in .NET.
                    throw Untranslatable(source, pattern, $"the escape '\\{e}'");
                }

                output.Append('\\').Append(e);
                return i + 2;
        }
    }

    private static int CopyClass(string pattern, int i, StringBuilder output, string source)
    {
        output.Append('[');
        i++;
        if (i < pattern.Length && pattern[i] == '^')
        {
            output.Append('^');
            i++;
        }

        bool first = true;
        while (i < pattern.Length)
        {
            char c = pattern[i];
            if (c == ']' && !first)
            {
                output.Append(']');
                return i + 1;
            }

            first = false;
            if (c == '\\')
            {
                i = CopyEscape(pattern, i, output, source, inClass: true);
            }
            else if (c == '[' || (c == '&' && i + 1 < pattern.Length && pattern[i + 1] == '&'))
            {
                // Nested classes, POSIX brackets and intersections are Oniguruma-only.
                throw Untranslatable(source, pattern, "a nested character class, POSIX bracket or '&&'");
            }
            else
            {
                if (c == ']')
                {
                    output.Append('\\');
                }

                output.Append(c);
                i++;
            }
        }

        throw Untranslatable(source, pattern, "an unclosed '['");
    }

    private static readonly HashSet<string> s_generalCategories = new(StringComparer.Ordinal)
    {
        "L", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl", "No", "P", "Pc", "Pd", "Ps", "Pe",
        "Pi", "Pf", "Po", "S", "Sm", "Sc", "Sk", "So", "Z", "Zs", "Zl", "Zp", "C", "Cc", "Cf", "Cs", "Co", "Cn",
    };

    /// <summary>
    /// For each general category, a BMP character of that category that patterns are unlikely to name: the last
    /// one below U+FFFE that is not whitespace and has no case partner in ASCII.
    /// </summary>
    private static char[] BuildCategoryProxies()
    {
        var proxies = new char[32];
        for (int c = 0xFFFD; c >= 0x80; c--)
        {
            if (char.IsSurrogate((char)c) || char.IsWhiteSpace((char)c))
            {
                continue;
            }

            int category = (int)CharUnicodeInfo.GetUnicodeCategory((char)c);
            if (proxies[category] == '\0' && char.ToUpperInvariant((char)c) >= 0x80 && char.ToLowerInvariant((char)c) >= 0x80)
            {
                proxies[category] = (char)c;
            }
        }

        return proxies;
    }

    private static LmException Untranslatable(string source, string pattern, string construct) =>
        new(ErrorCodes.TokenizerRegexUnsupported,
            $"{source}: the regular expression '{pattern}' uses {construct}, which lm-tune cannot match exactly as the tokenizers library (Oniguruma) does.")
        { File = source };
}
