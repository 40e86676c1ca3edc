using System.Globalization;
using System.Text;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Tokenization.Chat;

/// <summary>Kinds of <see cref="JinjaToken"/>.</summary>
internal enum JinjaTokenKind
{
    Text,
    VariableBegin,
    VariableEnd,
    BlockBegin,
    BlockEnd,
    Name,
    String,
    Integer,
    Float,
    Operator,
    End,
}

/// <summary>A token of a template with its line and column (1-based) in the normalized source.</summary>
internal readonly record struct JinjaToken(JinjaTokenKind Kind, string Value, int Line, int Column)
{
    public string Where => $"line {Line}, column {Column}";

    public bool Is(JinjaTokenKind kind, string value) => Kind == kind && Value == value;

    public bool IsName(string name) => Kind == JinjaTokenKind.Name && Value == name;

    public bool IsOperator(string op) => Kind == JinjaTokenKind.Operator && Value == op;
}

/// <summary>
/// Jinja's lexer as transformers configures it for chat templates (<c>trim_blocks=True</c>,
/// <c>lstrip_blocks=True</c>, <c>keep_trailing_newline=False</c>): line endings normalized to <c>\n</c> and a single
/// trailing one dropped (Python's <c>splitlines</c>), <c>{%-</c>/<c>-%}</c> (and <c>{{-</c>/<c>-}}</c>) strip all
/// whitespace beside them, the first newline after a block or comment tag goes, and spaces and tabs between a line's
/// start and a block or comment tag go.
/// </summary>
internal static class JinjaLexer
{
    private static readonly string[] Operators =
        ["//", "**", "==", "!=", ">=", "<=", "+", "-", "*", "/", "%", "~", "<", ">", "=", ".", ",", ":", "|", "(", ")", "[", "]", "{", "}"];

    /// <summary>Python's <c>"\n".join(source.splitlines())</c>: what Jinja does to a template before lexing it.</summary>
    public static string Normalize(string source)
    {
        var lines = new List<string>();
        int start = 0;
        for (int i = 0; i < source.Length; i++)
        {
            char c = source[i];
            bool lineBreak = c is '\n' or '\r' or '\v' or '\f' or '\x1c' or '\x1d' or '\x1e' or '\x85' or '\u2028' or '\u2029';
            if (!lineBreak) continue;
            lines.Add(source[start..i]);
            if (c == '\r' && i + 1 < source.Length && source[i + 1] == '\n') i++;
            start = i + 1;
        }
        if (start < source.Length) lines.Add(source[start..]);
        return string.Join("\n", lines);
    }

    public static List<JinjaToken> Tokenize(string source)
    {
        var tokens = new List<JinjaToken>();
        int position = 0;
        bool stripNextText = false;
        bool trimNextNewline = false;
        while (position <= source.Length)
        {
            int open = NextTagStart(source, position);
            string text = source[position..(open < 0 ? source.Length : open)];
            if (stripNextText) text = text.TrimStart();
            else if (trimNextNewline && text.StartsWith('\n')) text = text[1..];
            if (open < 0)
            {
                if (text.Length > 0) tokens.Add(Token(JinjaTokenKind.Text, text, source, position));
                break;
            }

            char kind = source[open + 1];
            int inner = open + 2;
            char modifier = inner < source.Length ? source[inner] : '\0';
            if (modifier == '-')
            {
                text = text.TrimEnd();
                inner++;
            }
            else if (modifier == '+')
            {
                inner++;
            }
            else if (kind is '%' or '#' && LineStartsBefore(source, position, text))
            {
                // lstrip_blocks: spaces and tabs from the line's start to a block or comment tag go.
                int lastNewline = text.LastIndexOf('\n');
                string tail = text[(lastNewline + 1)..];
                if (tail.All(ch => ch is ' ' or '\t')) text = text[..(lastNewline + 1)];
            }
            if (text.Length > 0) tokens.Add(Token(JinjaTokenKind.Text, text, source, position));

            int end;
            bool stripAfter;
            if (kind == '#')
            {
                int close = source.IndexOf("#}", inner, StringComparison.Ordinal);
                if (close < 0) throw Syntax("a comment '{#' is never closed", source, open);
                stripAfter = close > inner && source[close - 1] == '-';
                end = close + 2;
            }
            else
            {
                tokens.Add(Token(kind == '{' ? JinjaTokenKind.VariableBegin : JinjaTokenKind.BlockBegin, source[open..inner], source, open));
                (end, stripAfter) = TokenizeTag(source, inner, kind == '{' ? '}' : '%', tokens);
                tokens.Add(Token(kind == '{' ? JinjaTokenKind.VariableEnd : JinjaTokenKind.BlockEnd, "", source, end));
            }
            stripNextText = stripAfter;
            // trim_blocks: the first newline after a block or comment tag goes (not after a variable tag).
            trimNextNewline = !stripAfter && kind != '{';
            position = end;
        }
        tokens.Add(new JinjaToken(JinjaTokenKind.End, "", LineOf(source, source.Length), ColumnOf(source, source.Length)));
        return tokens;
    }

    // Jinja strips only when the text starts a line: it holds a newline, or begins at the template's start or right
    // after a newline the previous tag consumed.
    private static bool LineStartsBefore(string source, int textStart, string text) =>
        text.Contains('\n') || textStart == 0 || source[textStart - 1] == '\n';

    private static int NextTagStart(string source, int from)
    {
        for (int i = source.IndexOf('{', from); i >= 0 && i + 1 < source.Length; i = source.IndexOf('{', i + 1))
        {
            if (source[i + 1] is '{' or '%' or '#') return i;
        }
        return -1;
    }

    /// <summary>Tokens of one tag's inside up to its end delimiter (outside strings and brackets).</summary>
    private static (int End, bool StripAfter) TokenizeTag(string source, int position, char closer, List<JinjaToken> tokens)
    {
        int depth = 0;
        int i = position;
        while (true)
        {
            while (i < source.Length && char.IsWhiteSpace(source[i])) i++;
            if (i >= source.Length) throw Syntax($"a tag is never closed (expected '{closer}}}')", source, position);
            char c = source[i];
            if (depth == 0)
            {
                if (c == '-' && i + 2 < source.Length && source[i + 1] == closer && source[i + 2] == '}')
                    return (i + 3, true);
                if (c == closer && i + 1 < source.Length && source[i + 1] == '}') return (i + 2, false);
            }
            if (c is '\'' or '"')
            {
                int start = i;
                string value = ReadString(source, ref i);
                tokens.Add(Token(JinjaTokenKind.String, value, source, start));
                continue;
            }
            if (char.IsAsciiDigit(c))
            {
                int start = i;
                while (i < source.Length && (char.IsAsciiDigit(source[i]) || source[i] == '_')) i++;
                bool isFloat = false;
                if (i + 1 < source.Length && source[i] == '.' && char.IsAsciiDigit(source[i + 1]))
                {
                    isFloat = true;
                    i++;
                    while (i < source.Length && (char.IsAsciiDigit(source[i]) || source[i] == '_')) i++;
                }
                if (i < source.Length && source[i] is 'e' or 'E')
                {
                    int mark = i + 1;
                    if (mark < source.Length && source[mark] is '+' or '-') mark++;
                    if (mark < source.Length && char.IsAsciiDigit(source[mark]))
                    {
                        isFloat = true;
                        i = mark;
                        while (i < source.Length && char.IsAsciiDigit(source[i])) i++;
                    }
                }
                tokens.Add(Token(isFloat ? JinjaTokenKind.Float : JinjaTokenKind.Integer, source[start..i].Replace("_", ""), source, start));
                continue;
            }
            if (char.IsLetter(c) || c == '_')
            {
                int start = i;
                while (i < source.Length && (char.IsLetterOrDigit(source[i]) || source[i] == '_')) i++;
                tokens.Add(Token(JinjaTokenKind.Name, source[start..i], source, start));
                continue;
            }
            string? op = Operators.FirstOrDefault(o => string.CompareOrdinal(source, i, o, 0, o.Length) == 0);
            if (op is null) throw Syntax($"unexpected character '{c}'", source, i);
            if (op is "(" or "[" or "{") depth++;
            else if (op is ")" or "]" or "}")
            {
                if (depth == 0) throw Syntax($"unexpected '{op}'", source, i);
                depth--;
            }
            tokens.Add(Token(JinjaTokenKind.Operator, op, source, i));
            i += op.Length;
        }
    }

    /// <summary>A quoted string with Python's escapes (Jinja decodes them as <c>unicode-escape</c>).</summary>
    private static string ReadString(string source, ref int i)
    {
        char quote = source[i];
        int start = i;
        i++;
        var value = new StringBuilder();
        while (true)
        {
            if (i >= source.Length) throw Syntax("a string is never closed", source, start);
            char c = source[i];
            if (c == quote)
            {
                i++;
                return value.ToString();
            }
            if (c != '\\' || i + 1 >= source.Length)
            {
                value.Append(c);
                i++;
                continue;
            }
            char e = source[i + 1];
            i += 2;
            switch (e)
            {
                case 'n': value.Append('\n'); break;
                case 't': value.Append('\t'); break;
                case 'r': value.Append('\r'); break;
                case '\\': value.Append('\\'); break;
                case '\'': value.Append('\''); break;
                case '"': value.Append('"'); break;
                case 'a': value.Append('\a'); break;
                case 'b': value.Append('\b'); break;
                case 'f': value.Append('\f'); break;
                case 'v': value.Append('\v'); break;
                case '\n': break;
                case 'x': value.Append(Hex(source, ref i, 2, start)); break;
                case 'u': value.Append(Hex(source, ref i, 4, start)); break;
                case 'U': value.Append(Hex(source, ref i, 8, start)); break;
                default:
                    if (e is >= '0' and <= '7')
                    {
                        int code = e - '0';
                        for (int k = 0; k < 2 && i < source.Length && source[i] is >= '0' and <= '7'; k++, i++) code = code * 8 + (source[i] - '0');
                        value.Append((char)code);
                    }
                    else
                    {
                        // Python keeps an unknown escape as written.
                        value.Append('\\').Append(e);
                    }
                    break;
            }
        }
    }

    private static string Hex(string source, ref int i, int digits, int stringStart)
    {
        if (i + digits > source.Length || !int.TryParse(source.AsSpan(i, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int code)
            || code > 0x10FFFF)
            throw Syntax("a string holds a malformed \\x, \\u or \\U escape", source, stringStart);
        i += digits;
        return char.ConvertFromUtf32(code);
    }

    private static JinjaToken Token(JinjaTokenKind kind, string value, string source, int offset) =>
        new(kind, value, LineOf(source, offset), ColumnOf(source, offset));

    private static int LineOf(string source, int offset) => source.AsSpan(0, Math.Min(offset, source.Length)).Count('\n') + 1;

    private static int ColumnOf(string source, int offset)
    {
        offset = Math.Min(offset, source.Length);
        return offset - (source.LastIndexOf('\n', Math.Max(0, offset - 1)) is var nl && nl >= 0 && nl < offset ? nl + 1 : 0) + 1;
    }

    private static LmException Syntax(string what, string source, int offset) =>
        new(ErrorCodes.ChatTemplateSyntax, $"chat template: {what} at line {LineOf(source, offset)}, column {ColumnOf(source, offset)}");
}
