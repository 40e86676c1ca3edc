namespace Lm.Runtime.Tokenization.Chat;

internal abstract class JinjaExpression(JinjaToken at)
{
    public JinjaToken At { get; } = at;

    public abstract object? Evaluate(JinjaContext context);
}

internal sealed class LiteralExpression(JinjaToken at, object? value) : JinjaExpression(at)
{
    public object? Value { get; } = value;

    public override object? Evaluate(JinjaContext context) => Value;
}

internal sealed class ListExpression(JinjaToken at, List<JinjaExpression> items) : JinjaExpression(at)
{
    public override object? Evaluate(JinjaContext context) => items.Select(i => i.Evaluate(context)).ToList();
}

internal sealed class DictExpression(JinjaToken at, List<(JinjaExpression Key, JinjaExpression Value)> pairs) : JinjaExpression(at)
{
    public override object? Evaluate(JinjaContext context)
    {
        var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (key, value) in pairs)
        {
            if (key.Evaluate(context) is not string name)
                throw new JinjaUnsupportedException("a dict literal with a key that is not a string");
            dict[name] = value.Evaluate(context);
        }
        return dict;
    }
}

internal sealed class NameExpression(JinjaToken at, string name) : JinjaExpression(at)
{
    public string Name { get; } = name;

    public override object? Evaluate(JinjaContext context) => context.Lookup(Name);
}

/// <summary><c>obj.name</c>: Jinja's <c>getattr</c>, which tries the attribute (a method) and then the item.</summary>
internal sealed class AttributeExpression(JinjaToken at, JinjaExpression target, string name) : JinjaExpression(at)
{
    public override object? Evaluate(JinjaContext context) => JinjaBuiltins.GetAttribute(target.Evaluate(context), name, Describe(target));

    public static string Describe(JinjaExpression e) => e is NameExpression n ? n.Name : "value";
}

/// <summary><c>obj[key]</c>: Jinja's <c>getitem</c>, which tries the item and then the attribute.</summary>
internal sealed class ItemExpression(JinjaToken at, JinjaExpression target, JinjaExpression key) : JinjaExpression(at)
{
    public override object? Evaluate(JinjaContext context)
    {
        object? value = target.Evaluate(context);
        object? index = key.Evaluate(context);
        switch (value)
        {
            case JinjaUndefined u:
                throw new JinjaRuntimeException($"'{u.Name}' is undefined");
            case List<object?> list when index is long or bool:
                long i = JinjaValues.ToLong(index);
                if (i < 0) i += list.Count;
                return i >= 0 && i < list.Count ? list[(int)i] : new JinjaUndefined($"{AttributeExpression.Describe(target)}[{index}]");
            case string s when index is long or bool:
                var chars = JinjaValues.StringElements(s);
                long c = JinjaValues.ToLong(index);
                if (c < 0) c += chars.Count;
                return c >= 0 && c < chars.Count ? chars[(int)c] : new JinjaUndefined($"{AttributeExpression.Describe(target)}[{index}]");
            case Dictionary<string, object?> dict when index is string k:
                return dict.TryGetValue(k, out object? v) ? v : new JinjaUndefined(k);
            case JinjaNamespace or JinjaLoop when index is string attribute:
                return JinjaBuiltins.GetAttribute(value, attribute, AttributeExpression.Describe(target));
            default:
                return index is string name ? JinjaBuiltins.GetAttribute(value, name, AttributeExpression.Describe(target))
                    : new JinjaUndefined($"{AttributeExpression.Describe(target)}[{JinjaValues.Repr(index)}]");
        }
    }
}

/// <summary><c>obj[start:stop:step]</c> with Python's slice rules, on lists and strings.</summary>
internal sealed class SliceExpression(JinjaToken at, JinjaExpression target, JinjaExpression? start, JinjaExpression? stop, JinjaExpression? step)
    : JinjaExpression(at)
{
    public override object? Evaluate(JinjaContext context)
    {
        object? value = target.Evaluate(context);
        long? Bound(JinjaExpression? e) => e?.Evaluate(context) switch
        {
            null => null,
            var v => JinjaValues.ToLong(v),
        };
        long? first = Bound(start), last = Bound(stop), stride = Bound(step);
        if (stride == 0) throw new JinjaRuntimeException("slice step cannot be zero");
        switch (value)
        {
            case List<object?> list:
                return Indices(list.Count, first, last, stride ?? 1).Select(i => list[i]).ToList();
            case string s:
                var chars = JinjaValues.StringElements(s);
                return string.Concat(Indices(chars.Count, first, last, stride ?? 1).Select(i => chars[i]));
            case JinjaUndefined u:
                throw new JinjaRuntimeException($"'{u.Name}' is undefined");
            default:
                throw new JinjaRuntimeException($"{JinjaValues.TypeName(value)} cannot be sliced");
        }
    }

    private static IEnumerable<int> Indices(int length, long? start, long? stop, long step)
    {
        // Python's slice.indices.
        long Clamp(long? v, long lower, long upper, long fallback)
        {
            if (v is not long x) return fallback;
            if (x < 0) x += length;
            return Math.Clamp(x, lower, upper);
        }
        if (step > 0)
        {
            long from = Clamp(start, 0, length, 0), to = Clamp(stop, 0, length, length);
            for (long i = from; i < to; i += step) yield return (int)i;
        }
        else
        {
            long from = Clamp(start, -1, length - 1, length - 1), to = Clamp(stop, -1, length - 1, -1);
            for (long i = from; i > to; i += step) yield return (int)i;
        }
    }
}

internal sealed class CallExpression(JinjaToken at, JinjaExpression callee, List<JinjaExpression> args, List<(string Name, JinjaExpression Value)> kwargs)
    : JinjaExpression(at)
{
    public override object? Evaluate(JinjaContext context)
    {
        object? function = callee.Evaluate(context);
        if (function is JinjaUndefined u) throw new JinjaRuntimeException($"'{u.Name}' is undefined");
        if (function is not JinjaCallable call) throw new JinjaRuntimeException($"{JinjaValues.TypeName(function)} is not callable");
        var named = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, value) in kwargs) named[name] = value.Evaluate(context);
        return call(args.Select(a => a.Evaluate(context)).ToList(), named);
    }
}

internal sealed class FilterExpression(JinjaToken at, JinjaExpression target, string name, List<JinjaExpression> args,
    List<(string Name, JinjaExpression Value)> kwargs) : JinjaExpression(at)
{
    public override object? Evaluate(JinjaContext context)
    {
        var named = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (key, value) in kwargs) named[key] = value.Evaluate(context);
        return JinjaBuiltins.ApplyFilter(name, target.Evaluate(context), args.Select(a => a.Evaluate(context)).ToList(), named);
    }
}

internal sealed class TestExpression(JinjaToken at, JinjaExpression target, string name, List<JinjaExpression> args, bool negated)
    : JinjaExpression(at)
{
    public override object? Evaluate(JinjaContext context) =>
        negated != JinjaBuiltins.ApplyTest(name, target.Evaluate(context), args.Select(a => a.Evaluate(context)).ToList());
}

internal sealed class NotExpression(JinjaToken at, JinjaExpression operand) : JinjaExpression(at)
{
    public override object? Evaluate(JinjaContext context) => !JinjaValues.Truthy(operand.Evaluate(context));
}

internal sealed class NegateExpression(JinjaToken at, JinjaExpression operand, bool minus) : JinjaExpression(at)
{
    public override object? Evaluate(JinjaContext context) => operand.Evaluate(context) switch
    {
        // Arms boxed one by one: a switch over long and double would otherwise make every result a double.
        long l => (object)(minus ? -l : l),
        double d => (object)(minus ? -d : d),
        bool b => (object)(minus ? -(b ? 1L : 0L) : (b ? 1L : 0L)),
        var v => throw new JinjaRuntimeException($"bad operand type for unary {(minus ? "-" : "+")}: {JinjaValues.TypeName(v)}"),
    };
}

/// <summary><c>a if condition else b</c>; without <c>else</c> the false branch is undefined.</summary>
internal sealed class ConditionalExpression(JinjaToken at, JinjaExpression then, JinjaExpression condition, JinjaExpression? otherwise)
    : JinjaExpression(at)
{
    public override object? Evaluate(JinjaContext context) =>
        JinjaValues.Truthy(condition.Evaluate(context)) ? then.Evaluate(context) : otherwise?.Evaluate(context) ?? new JinjaUndefined("else");
}

/// <summary>Binary operators with Python's meaning; <c>and</c>/<c>or</c> short-circuit and return an operand.</summary>
internal sealed class BinaryExpression(JinjaToken at, string op, JinjaExpression left, JinjaExpression right) : JinjaExpression(at)
{
    public override object? Evaluate(JinjaContext context)
    {
        object? a = left.Evaluate(context);
        switch (op)
        {
            case "and": return JinjaValues.Truthy(a) ? right.Evaluate(context) : a;
            case "or": return JinjaValues.Truthy(a) ? a : right.Evaluate(context);
        }
        object? b = right.Evaluate(context);
        return op switch
        {
            "==" => JinjaValues.Equal(a, b),
            "!=" => !JinjaValues.Equal(a, b),
            "<" => JinjaValues.Compare(a, b, op) < 0,
            ">" => JinjaValues.Compare(a, b, op) > 0,
            "<=" => JinjaValues.Compare(a, b, op) <= 0,
            ">=" => JinjaValues.Compare(a, b, op) >= 0,
            "in" => Contains(b, a),
            "not in" => !Contains(b, a),
            "~" => JinjaValues.Str(a) + JinjaValues.Str(b),
            "+" => Add(a, b),
            _ => Arithmetic(a, b),
        };
    }

    private static bool Contains(object? container, object? item) => container switch
    {
        string s when item is string part => s.Contains(part, StringComparison.Ordinal),
        string => throw new JinjaRuntimeException($"'in <string>' requires string as left operand, not {JinjaValues.TypeName(item)}"),
        List<object?> list => list.Any(x => JinjaValues.Equal(x, item)),
        Dictionary<string, object?> dict => item is string key && dict.ContainsKey(key),
        JinjaUndefined => false,
        _ => throw new JinjaRuntimeException($"argument of type '{JinjaValues.TypeName(container)}' is not iterable"),
    };

    private static object? Add(object? a, object? b) => (a, b) switch
    {
        (string x, string y) => x + y,
        (List<object?> x, List<object?> y) => x.Concat(y).ToList(),
        _ when JinjaValues.IsNumber(a) && JinjaValues.IsNumber(b) => a is double || b is double
            ? (object)(JinjaValues.ToDouble(a) + JinjaValues.ToDouble(b))
            : (object)(JinjaValues.ToLong(a) + JinjaValues.ToLong(b)),
        _ => throw new JinjaRuntimeException($"unsupported operand type(s) for +: '{JinjaValues.TypeName(a)}' and '{JinjaValues.TypeName(b)}'"),
    };

    private object? Arithmetic(object? a, object? b)
    {
        if (op == "*" && (a, b) is (string, long or bool) or (long or bool, string))
        {
            string text = a as string ?? (string)b!;
            long times = JinjaValues.ToLong(a is string ? b : a);
            return times <= 0 ? "" : string.Concat(Enumerable.Repeat(text, (int)times));
        }
        if (!JinjaValues.IsNumber(a) || !JinjaValues.IsNumber(b))
            throw new JinjaRuntimeException($"unsupported operand type(s) for {op}: '{JinjaValues.TypeName(a)}' and '{JinjaValues.TypeName(b)}'");
        bool integers = a is not double && b is not double;
        if (op == "/")
        {
            double divisor = JinjaValues.ToDouble(b);
            if (divisor == 0) throw new JinjaRuntimeException("division by zero");
            return JinjaValues.ToDouble(a) / divisor;
        }
        if (integers)
        {
            long x = JinjaValues.ToLong(a), y = JinjaValues.ToLong(b);
            if (op is "//" or "%" && y == 0) throw new JinjaRuntimeException("integer division or modulo by zero");
            return op switch
            {
                "-" => (object)(x - y),
                "*" => x * y,
                "//" => (long)Math.Floor((double)x / y),
                "%" => ((x % y) + y) % y,
                "**" => y >= 0 ? (object)(long)Math.Pow(x, y) : Math.Pow(x, y),
                _ => throw new JinjaUnsupportedException($"operator '{op}'"),
            };
        }
        double p = JinjaValues.ToDouble(a), q = JinjaValues.ToDouble(b);
        if (op is "//" or "%" && q == 0) throw new JinjaRuntimeException("float division or modulo by zero");
        return op switch
        {
            "-" => p - q,
            "*" => p * q,
            "//" => Math.Floor(p / q),
            "%" => p - q * Math.Floor(p / q),
            "**" => Math.Pow(p, q),
            _ => throw new JinjaUnsupportedException($"operator '{op}'"),
        };
    }
}
