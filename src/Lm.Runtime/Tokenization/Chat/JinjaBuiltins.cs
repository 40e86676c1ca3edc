using System.Globalization;

namespace Lm.Runtime.Tokenization.Chat;

/// <summary>
/// The filters, tests, methods and globals chat templates use: Jinja's built-ins with Python's string and dict
/// methods, plus what transformers adds (<c>raise_exception</c>, <c>strftime_now</c>, its own <c>tojson</c>).
/// </summary>
internal static class JinjaBuiltins
{
    private static readonly string[] DictMethods = ["get", "items", "keys", "values"];

    private static readonly string[] StringMethods =
        ["strip", "lstrip", "rstrip", "split", "startswith", "endswith", "upper", "lower", "replace", "title", "capitalize", "join", "find", "count"];

    /// <summary>Jinja's <c>getattr</c>: a method of the value when it has one of that name, else the item.</summary>
    public static object? GetAttribute(object? value, string name, string description)
    {
        switch (value)
        {
            case JinjaUndefined u:
                throw new JinjaRuntimeException($"'{u.Name}' is undefined (asked for its attribute '{name}')");
            case JinjaLoop loop:
                return loop.Attribute(name);
            case JinjaNamespace ns:
                return ns.Attributes.TryGetValue(name, out object? attribute) ? attribute : new JinjaUndefined($"{description}.{name}");
            case Dictionary<string, object?> dict:
                if (DictMethods.Contains(name)) return DictMethod(dict, name);
                return dict.TryGetValue(name, out object? item) ? item : new JinjaUndefined($"{description}.{name}");
            case string s when StringMethods.Contains(name):
                return StringMethod(s, name);
            default:
                return new JinjaUndefined($"{description}.{name}");
        }
    }

    private static JinjaCallable DictMethod(Dictionary<string, object?> dict, string name) => (args, _) => name switch
    {
        "get" => args.Count >= 1 && args[0] is string key && dict.TryGetValue(key, out object? v) ? v : args.Count >= 2 ? args[1] : null,
        "items" => dict.Select(p => (object?)new List<object?> { p.Key, p.Value }).ToList(),
        "keys" => dict.Keys.Cast<object?>().ToList(),
        _ => dict.Values.ToList(),
    };

    private static JinjaCallable StringMethod(string s, string name) => (args, _) =>
    {
        string? Arg(int i) => i < args.Count ? args[i] switch
        {
            null => null,
            string text => text,
            var other => throw new JinjaRuntimeException($"str.{name}() expects a string argument, not {JinjaValues.TypeName(other)}"),
        } : null;
        switch (name)
        {
            case "strip": return Arg(0) is string chars ? s.Trim(chars.ToCharArray()) : PythonStrip(s, true, true);
            case "lstrip": return Arg(0) is string l ? s.TrimStart(l.ToCharArray()) : PythonStrip(s, true, false);
            case "rstrip": return Arg(0) is string r ? s.TrimEnd(r.ToCharArray()) : PythonStrip(s, false, true);
            case "upper": return s.ToUpperInvariant();
            case "lower": return s.ToLowerInvariant();
            case "title": return Title(s);
            case "capitalize": return Capitalize(s);
            case "replace": return s.Replace(Arg(0) ?? "", Arg(1) ?? "", StringComparison.Ordinal);
            case "find": return (long)s.IndexOf(Arg(0) ?? "", StringComparison.Ordinal);
            case "count": return (long)(Arg(0) is { Length: > 0 } part ? (s.Length - s.Replace(part, "", StringComparison.Ordinal).Length) / part.Length : s.Length + 1);
            case "join": return string.Join(s, JinjaValues.Iterate(args.Count > 0 ? args[0] : null).Select(JinjaValues.Str));
            case "startswith":
            case "endswith":
                var candidates = args.Count > 0 && args[0] is List<object?> options ? options : [args.Count > 0 ? args[0] : null];
                return candidates.Any(c => c is string text && (name == "startswith"
                    ? s.StartsWith(text, StringComparison.Ordinal) : s.EndsWith(text, StringComparison.Ordinal)));
            default: // split
                string? separator = Arg(0);
                long max = args.Count > 1 ? JinjaValues.ToLong(args[1]) : -1;
                if (separator is null)
                {
                    var words = s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                    return words.Cast<object?>().ToList();
                }
                if (separator.Length == 0) throw new JinjaRuntimeException("empty separator");
                var parts = max < 0 ? s.Split(separator) : s.Split(separator, (int)Math.Min(max + 1, int.MaxValue));
                return parts.Cast<object?>().ToList();
        }
    };

    /// <summary>Python's <c>str.strip()</c>: Unicode whitespace.</summary>
    private static string PythonStrip(string s, bool start, bool end)
    {
        int from = 0, to = s.Length;
        if (start) while (from < to && char.IsWhiteSpace(s[from])) from++;
        if (end) while (to > from && char.IsWhiteSpace(s[to - 1])) to--;
        return s[from..to];
    }

    private static string Capitalize(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    private static string Title(string s)
    {
        var chars = s.ToCharArray();
        bool previousCased = false;
        for (int i = 0; i < chars.Length; i++)
        {
            chars[i] = previousCased ? char.ToLowerInvariant(chars[i]) : char.ToUpperInvariant(chars[i]);
            previousCased = char.IsLetter(chars[i]);
        }
        return new string(chars);
    }

    public static object? ApplyFilter(string name, object? value, List<object?> args, Dictionary<string, object?> kwargs)
    {
        object? Argument(int index, string key, object? fallback) =>
            kwargs.TryGetValue(key, out object? named) ? named : index < args.Count ? args[index] : fallback;
        switch (name)
        {
            case "trim":
                return value is JinjaUndefined ? "" : Argument(0, "chars", null) is string chars
                    ? JinjaValues.Str(value).Trim(chars.ToCharArray())
                    : PythonStrip(JinjaValues.Str(value), true, true);
            case "length":
            case "count":
                return value switch
                {
                    string s => (long)JinjaValues.StringElements(s).Count,
                    List<object?> list => (long)list.Count,
                    Dictionary<string, object?> dict => (long)dict.Count,
                    JinjaUndefined => 0L,
                    _ => throw new JinjaRuntimeException($"object of type '{JinjaValues.TypeName(value)}' has no len()"),
                };
            case "tojson":
                object? indent = Argument(0, "indent", null);
                return JinjaValues.ToJson(value, indent is null ? null : (int)JinjaValues.ToLong(indent));
            case "upper": return JinjaValues.Str(value).ToUpperInvariant();
            case "lower": return JinjaValues.Str(value).ToLowerInvariant();
            case "capitalize": return Capitalize(JinjaValues.Str(value));
            case "title": return Title(JinjaValues.Str(value));
            case "string": return JinjaValues.Str(value);
            case "safe": return value;
            case "default":
            case "d":
                bool boolean = JinjaValues.Truthy(Argument(1, "boolean", false));
                bool useDefault = value is JinjaUndefined || (boolean && !JinjaValues.Truthy(value));
                return useDefault ? Argument(0, "default_value", "") : value;
            case "first":
                var all = JinjaValues.Iterate(value);
                return all.Count > 0 ? all[0] : new JinjaUndefined("first");
            case "last":
                var items = JinjaValues.Iterate(value);
                return items.Count > 0 ? items[^1] : new JinjaUndefined("last");
            case "list":
                return JinjaValues.Iterate(value).ToList();
            case "reverse":
                if (value is string text) return string.Concat(JinjaValues.StringElements(text).AsEnumerable().Reverse());
                return JinjaValues.Iterate(value).AsEnumerable().Reverse().ToList();
            case "join":
                return string.Join(JinjaValues.Str(Argument(0, "d", "")), JinjaValues.Iterate(value).Select(JinjaValues.Str));
            case "replace":
                return JinjaValues.Str(value).Replace(JinjaValues.Str(Argument(0, "old", "")), JinjaValues.Str(Argument(1, "new", "")), StringComparison.Ordinal);
            case "items":
                return value is Dictionary<string, object?> mapping
                    ? mapping.Select(p => (object?)new List<object?> { p.Key, p.Value }).ToList()
                    : value is JinjaUndefined ? new List<object?>() : throw new JinjaRuntimeException($"{JinjaValues.TypeName(value)} has no items");
            case "int":
                return value switch
                {
                    long or bool => JinjaValues.ToLong(value),
                    double d => (long)Math.Truncate(d),
                    string s when long.TryParse(s.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long parsed) => parsed,
                    _ => Argument(0, "default", 0L),
                };
            case "float":
                return value switch
                {
                    long or bool or double => JinjaValues.ToDouble(value),
                    string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double parsed) => parsed,
                    _ => Argument(0, "default", 0.0),
                };
            case "abs":
                return value is double f ? (object)Math.Abs(f) : Math.Abs(JinjaValues.ToLong(value));
            default:
                throw new JinjaUnsupportedException($"the filter '{name}'");
        }
    }

    public static bool ApplyTest(string name, object? value, List<object?> args) => name switch
    {
        "defined" => value is not JinjaUndefined,
        "undefined" => value is JinjaUndefined,
        "none" => value is null,
        "string" => value is string,
        "number" => value is long or double,
        "integer" => value is long,
        "float" => value is double,
        "boolean" => value is bool,
        "true" => value is true,
        "false" => value is false,
        "mapping" => value is Dictionary<string, object?> or JinjaNamespace,
        "iterable" => value is string or List<object?> or Dictionary<string, object?>,
        "sequence" => value is string or List<object?> or Dictionary<string, object?>,
        "callable" => value is JinjaCallable,
        "odd" => JinjaValues.ToLong(value) % 2 != 0,
        "even" => JinjaValues.ToLong(value) % 2 == 0,
        "divisibleby" => args.Count == 1 && JinjaValues.ToLong(value) % JinjaValues.ToLong(args[0]) == 0,
        "eq" or "equalto" or "==" => args.Count == 1 && JinjaValues.Equal(value, args[0]),
        "ne" or "!=" => args.Count == 1 && !JinjaValues.Equal(value, args[0]),
        "in" => args.Count == 1 && args[0] is List<object?> list && list.Any(x => JinjaValues.Equal(x, value)),
        _ => throw new JinjaUnsupportedException($"the test '{name}'"),
    };

    /// <summary>The globals transformers gives a chat template, besides the variables of the call.</summary>
    public static Dictionary<string, object?> Globals(Func<DateTime> now) => new(StringComparer.Ordinal)
    {
        ["raise_exception"] = (JinjaCallable)((args, _) =>
            throw new JinjaRaisedException(args.Count > 0 ? JinjaValues.Str(args[0]) : "raise_exception() called")),
        ["namespace"] = (JinjaCallable)((args, kwargs) =>
        {
            var ns = new JinjaNamespace();
            foreach (var initial in args.OfType<Dictionary<string, object?>>())
                foreach (var (key, v) in initial) ns.Attributes[key] = v;
            foreach (var (key, v) in kwargs) ns.Attributes[key] = v;
            return ns;
        }),
        ["range"] = (JinjaCallable)((args, _) =>
        {
            long start = args.Count > 1 ? JinjaValues.ToLong(args[0]) : 0;
            long stop = JinjaValues.ToLong(args.Count > 1 ? args[1] : args.Count == 1 ? args[0] : throw new JinjaRuntimeException("range expected an argument"));
            long step = args.Count > 2 ? JinjaValues.ToLong(args[2]) : 1;
            if (step == 0) throw new JinjaRuntimeException("range() arg 3 must not be zero");
            var numbers = new List<object?>();
            for (long i = start; step > 0 ? i < stop : i > stop; i += step)
            {
                if (numbers.Count > 100_000) throw new JinjaRuntimeException("range() is longer than 100000 items");
                numbers.Add(i);
            }
            return numbers;
        }),
        ["strftime_now"] = (JinjaCallable)((args, _) => Strftime(now(), args.Count > 0 ? JinjaValues.Str(args[0]) : "")),
    };

    /// <summary>Python's <c>datetime.strftime</c> for the directives templates use (C locale).</summary>
    public static string Strftime(DateTime time, string format)
    {
        var b = new System.Text.StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length)
            {
                b.Append(format[i]);
                continue;
            }
            char d = format[++i];
            var c = CultureInfo.InvariantCulture;
            b.Append(d switch
            {
                'd' => time.Day.ToString("00", c),
                'm' => time.Month.ToString("00", c),
                'Y' => time.Year.ToString("0000", c),
                'y' => (time.Year % 100).ToString("00", c),
                'b' => c.DateTimeFormat.GetAbbreviatedMonthName(time.Month),
                'B' => c.DateTimeFormat.GetMonthName(time.Month),
                'a' => c.DateTimeFormat.GetAbbreviatedDayName(time.DayOfWeek),
                'A' => c.DateTimeFormat.GetDayName(time.DayOfWeek),
                'H' => time.Hour.ToString("00", c),
                'I' => ((time.Hour + 11) % 12 + 1).ToString("00", c),
                'M' => time.Minute.ToString("00", c),
                'S' => time.Second.ToString("00", c),
                'p' => time.Hour < 12 ? "AM" : "PM",
                'j' => time.DayOfYear.ToString("000", c),
                '%' => "%",
                _ => throw new JinjaUnsupportedException($"the strftime directive '%{d}'"),
            });
        }
        return b.ToString();
    }
}
