using System.Globalization;
using System.Text;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Tokenization.Chat;

/// <summary>Jinja's <c>Undefined</c>: a missing variable, key or attribute. Prints as "", is false, iterates as empty.</summary>
internal sealed class JinjaUndefined(string name)
{
    public string Name { get; } = name;
}

/// <summary>The object <c>namespace(...)</c> makes: attributes a <c>set ns.x = ...</c> inside a loop can change.</summary>
internal sealed class JinjaNamespace
{
    public Dictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);
}

/// <summary>A callable value: a global function (<c>raise_exception</c>) or a bound method (<c>text.strip</c>).</summary>
internal delegate object? JinjaCallable(IReadOnlyList<object?> args, IReadOnlyDictionary<string, object?> kwargs);

/// <summary>
/// Values as Jinja sees Python's: <c>null</c> is None, <see cref="bool"/>, <see cref="long"/>, <see cref="double"/>,
/// <see cref="string"/>, <see cref="List{T}"/> of values, <see cref="Dictionary{TKey,TValue}"/> with string keys (insertion
/// order, as Python's dict), <see cref="JinjaUndefined"/>, <see cref="JinjaNamespace"/>, <see cref="JinjaCallable"/>.
/// Truth, equality, ordering, <c>str()</c> and <c>repr()</c> follow Python.
/// </summary>
internal static class JinjaValues
{
    public static bool IsUndefined(object? value) => value is JinjaUndefined;

    public static bool Truthy(object? value) => value switch
    {
        null or JinjaUndefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> list => list.Count > 0,
        Dictionary<string, object?> dict => dict.Count > 0,
        _ => true,
    };

    /// <summary>Python's <c>str(value)</c> (what <c>{{ }}</c> prints); undefined prints nothing.</summary>
    public static string Str(object? value) => value switch
    {
        JinjaUndefined => "",
        string s => s,
        _ => Repr(value),
    };

    /// <summary>Python's <c>repr(value)</c>.</summary>
    public static string Repr(object? value)
    {
        switch (value)
        {
            case null: return "None";
            case JinjaUndefined: return "";
            case bool b: return b ? "True" : "False";
            case long l: return l.ToString(CultureInfo.InvariantCulture);
            case double d: return FloatRepr(d);
            case string s: return StringRepr(s);
            case List<object?> list: return "[" + string.Join(", ", list.Select(Repr)) + "]";
            case Dictionary<string, object?> dict: return "{" + string.Join(", ", dict.Select(p => StringRepr(p.Key) + ": " + Repr(p.Value))) + "}";
            case JinjaNamespace: return "<Namespace>";
            default: return value.ToString() ?? "";
        }
    }

    /// <summary>Python's <c>repr(float)</c> (<c>5e-05</c>, <c>3.0</c>, <c>nan</c>); the model card writes numbers as HF's Python does.</summary>
    internal static string FloatRepr(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        string r = d.ToString("R", CultureInfo.InvariantCulture);
        if (r.Contains('E'))
        {
            // Python writes 1e-05 / 1e+20 where .NET writes 1E-05 / 1E+20.
            r = r.Replace("E", "e");
            int e = r.IndexOf('e');
            string exponent = r[(e + 1)..];
            string sign = exponent.StartsWith('-') ? "-" : "+";
            string digits = exponent.TrimStart('+', '-').PadLeft(2, '0');
            return r[..e] + "e" + sign + digits;
        }
        return r.Contains('.') ? r : r + ".0";
    }

    private static string StringRepr(string s)
    {
        char quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        var b = new StringBuilder().Append(quote);
        foreach (char c in s)
        {
            if (c == quote || c == '\\') b.Append('\\').Append(c);
            else if (c == '\n') b.Append("\\n");
            else if (c == '\r') b.Append("\\r");
            else if (c == '\t') b.Append("\\t");
            else if (c < 0x20 || c == 0x7f) b.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
            else b.Append(c);
        }
        return b.Append(quote).ToString();
    }

    /// <summary>Python's <c>==</c>: numbers by value (True == 1), other kinds by content.</summary>
    public static bool Equal(object? a, object? b)
    {
        if (a is JinjaUndefined || b is JinjaUndefined) return a is JinjaUndefined && b is JinjaUndefined;
        if (IsNumber(a) && IsNumber(b)) return ToDouble(a) == ToDouble(b);
        return (a, b) switch
        {
            (null, null) => true,
            (string x, string y) => x == y,
            (List<object?> x, List<object?> y) => x.Count == y.Count && x.Zip(y).All(p => Equal(p.First, p.Second)),
            (Dictionary<string, object?> x, Dictionary<string, object?> y) =>
                x.Count == y.Count && x.All(p => y.TryGetValue(p.Key, out var v) && Equal(p.Value, v)),
            _ => ReferenceEquals(a, b),
        };
    }

    /// <summary>Python's ordering of numbers and of strings (by code point); other pairs cannot be ordered.</summary>
    public static int Compare(object? a, object? b, string op)
    {
        if (IsNumber(a) && IsNumber(b)) return ToDouble(a).CompareTo(ToDouble(b));
        if (a is string x && b is string y) return string.CompareOrdinal(x, y);
        throw new JinjaRuntimeException($"'{op}' is not supported between {TypeName(a)} and {TypeName(b)}");
    }

    public static bool IsNumber(object? value) => value is long or double or bool;

    public static double ToDouble(object? value) => value switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new JinjaRuntimeException($"{TypeName(value)} is not a number"),
    };

    public static long ToLong(object? value) => value switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        _ => throw new JinjaRuntimeException($"{TypeName(value)} is not an integer"),
    };

    /// <summary>Python's type names, for messages.</summary>
    public static string TypeName(object? value) => value switch
    {
        null => "NoneType",
        JinjaUndefined u => $"undefined ('{u.Name}')",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        List<object?> => "list",
        Dictionary<string, object?> => "dict",
        JinjaNamespace => "Namespace",
        JinjaCallable => "function",
        _ => value.GetType().Name,
    };

    /// <summary>The items a <c>for</c> loop walks: list items, dict keys, string characters; undefined walks nothing.</summary>
    public static List<object?> Iterate(object? value) => value switch
    {
        JinjaUndefined => [],
        List<object?> list => list,
        Dictionary<string, object?> dict => dict.Keys.Cast<object?>().ToList(),
        string s => StringElements(s).Cast<object?>().ToList(),
        _ => throw new JinjaRuntimeException($"{TypeName(value)} is not iterable"),
    };

    /// <summary>The characters of a string as Python counts them (code points, not UTF-16 units).</summary>
    public static List<string> StringElements(string s)
    {
        var items = new List<string>(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                items.Add(s.Substring(i, 2));
                i++;
            }
            else
            {
                items.Add(s[i].ToString());
            }
        }
        return items;
    }

    /// <summary>
    /// transformers' <c>tojson</c> filter: <c>json.dumps(value, ensure_ascii=False, indent=indent,
    /// sort_keys=False)</c>, so separators are <c>", "</c> and <c>": "</c> on one line and <c>","</c> with an indent.
    /// </summary>
    public static string ToJson(object? value, int? indent)
    {
        var b = new StringBuilder();
        WriteJson(b, value, indent, 0);
        return b.ToString();
    }

    private static void WriteJson(StringBuilder b, object? value, int? indent, int level)
    {
        switch (value)
        {
            case null or JinjaUndefined: b.Append("null"); return;
            case bool x: b.Append(x ? "true" : "false"); return;
            case long l: b.Append(l.ToString(CultureInfo.InvariantCulture)); return;
            case double d:
                b.Append(double.IsNaN(d) ? "NaN" : double.IsInfinity(d) ? (d > 0 ? "Infinity" : "-Infinity") : FloatRepr(d));
                return;
            case string s: JsonString(b, s); return;
            case List<object?> list:
                WriteContainer(b, '[', ']', list.Count, indent, level, (i) => WriteJson(b, list[i], indent, level + 1));
                return;
            case Dictionary<string, object?> dict:
                var pairs = dict.ToList();
                WriteContainer(b, '{', '}', pairs.Count, indent, level, i =>
                {
                    JsonString(b, pairs[i].Key);
                    b.Append(": ");
                    WriteJson(b, pairs[i].Value, indent, level + 1);
                });
                return;
            default:
                throw new JinjaRuntimeException($"Object of type {TypeName(value)} is not JSON serializable");
        }
    }

    private static void WriteContainer(StringBuilder b, char open, char close, int count, int? indent, int level, Action<int> item)
    {
        b.Append(open);
        if (count == 0)
        {
            b.Append(close);
            return;
        }
        for (int i = 0; i < count; i++)
        {
            if (indent is int n)
            {
                if (i > 0) b.Append(',');
                b.Append('\n').Append(' ', n * (level + 1));
            }
            else if (i > 0)
            {
                b.Append(", ");
            }
            item(i);
        }
        if (indent is int m) b.Append('\n').Append(' ', m * level);
        b.Append(close);
    }

    private static void JsonString(StringBuilder b, string s)
    {
        b.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': b.Append("\\\""); break;
                case '\\': b.Append("\\\\"); break;
                case '\n': b.Append("\\n"); break;
                case '\r': b.Append("\\r"); break;
                case '\t': b.Append("\\t"); break;
                case '\b': b.Append("\\b"); break;
                case '\f': b.Append("\\f"); break;
                default:
                    if (c < 0x20) b.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else b.Append(c);
                    break;
            }
        }
        b.Append('"');
    }

    /// <summary>Turns .NET data (strings, numbers, lists, dictionaries, JSON nodes) into template values.</summary>
    public static object? FromJson(System.Text.Json.Nodes.JsonNode? node)
    {
        switch (node)
        {
            case null: return null;
            case System.Text.Json.Nodes.JsonObject obj:
                var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
                foreach (var (key, child) in obj) dict[key] = FromJson(child);
                return dict;
            case System.Text.Json.Nodes.JsonArray array:
                return array.Select(FromJson).ToList();
            default:
                var element = node.GetValue<System.Text.Json.JsonElement>();
                return element.ValueKind switch
                {
                    System.Text.Json.JsonValueKind.String => element.GetString(),
                    System.Text.Json.JsonValueKind.True => true,
                    System.Text.Json.JsonValueKind.False => false,
                    System.Text.Json.JsonValueKind.Number when element.TryGetInt64(out long l) => l,
                    System.Text.Json.JsonValueKind.Number => element.GetDouble(),
                    _ => null,
                };
        }
    }
}

/// <summary>A rendering error (Jinja's TypeError / UndefinedError); the template reports it with its position as LM0332.</summary>
internal sealed class JinjaRuntimeException(string message) : Exception(message);

/// <summary><c>raise_exception(message)</c> from the template itself: LM0333 with the template's message.</summary>
internal sealed class JinjaRaisedException(string message) : Exception(message);

/// <summary>Construct outside the subset, found while rendering (an unknown filter or test): LM0330.</summary>
internal sealed class JinjaUnsupportedException(string message) : Exception(message);

internal static class JinjaErrors
{
    public static LmException Unsupported(string what, JinjaToken at) =>
        new(ErrorCodes.ChatTemplateUnsupported,
            $"chat template: {what} at {at.Where} is not supported by lm-tune's Jinja subset (for/if/set/namespace, filters, tests, generation blocks)");

    public static LmException Syntax(string what, JinjaToken at) =>
        new(ErrorCodes.ChatTemplateSyntax, $"chat template: {what} at {at.Where}");
}
