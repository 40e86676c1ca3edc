using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lm.Runtime.Checkpoints;

/// <summary>
/// Writes JSON byte-for-byte as Python's <c>json.dumps(obj, indent=2, sort_keys=...)</c> does, which is how
/// Hugging Face writes config.json and generation_config.json: two-space indent, <c>": "</c> between key and value,
/// ASCII-only output with <c>\uXXXX</c> escapes, and floats in Python's <c>repr</c> form (<c>1e-05</c>, <c>0.1</c>,
/// <c>1.0</c>). A number is a float when its JSON text has a fraction or an exponent, an int otherwise.
/// </summary>
public static class PythonJson
{
    /// <summary>The text Python's <c>json.dumps(node, indent=indent, sort_keys=sortKeys)</c> produces (no trailing newline).</summary>
    public static string Serialize(JsonNode? node, bool sortKeys = true, int indent = 2)
    {
        var text = new StringBuilder();
        Write(text, node, 0, sortKeys, indent);
        return text.ToString();
    }

    /// <summary>Python's <c>repr(float)</c>: shortest round-trip digits, scientific below 1e-4 and from 1e16.</summary>
    public static string FormatFloat(double value)
    {
        if (double.IsNaN(value)) return "NaN";
        if (double.IsPositiveInfinity(value)) return "Infinity";
        if (double.IsNegativeInfinity(value)) return "-Infinity";
        if (value == 0) return double.IsNegative(value) ? "-0.0" : "0.0";

        // "R" gives the shortest digits that round-trip, as Python's repr does; only the layout differs.
        string roundTrip = Math.Abs(value).ToString("R", CultureInfo.InvariantCulture);
        (string digits, int exponent) = SplitDigits(roundTrip);
        string sign = value < 0 ? "-" : "";
        int pointPosition = exponent + 1; // digits d1 d2 ... stand for 0.d1d2... * 10^pointPosition
        if (pointPosition <= -4 || pointPosition > 16)
        {
            string mantissa = digits.Length == 1 ? digits : digits[0] + "." + digits[1..];
            int e = pointPosition - 1;
            return $"{sign}{mantissa}e{(e < 0 ? "-" : "+")}{Math.Abs(e):00}";
        }
        if (pointPosition <= 0) return $"{sign}0.{new string('0', -pointPosition)}{digits}";
        if (pointPosition >= digits.Length) return $"{sign}{digits}{new string('0', pointPosition - digits.Length)}.0";
        return $"{sign}{digits[..pointPosition]}.{digits[pointPosition..]}";
    }

    /// <summary>Significant digits (no leading or trailing zeros) and the decimal exponent of the first one.</summary>
    private static (string Digits, int Exponent) SplitDigits(string roundTrip)
    {
        int exponentMark = roundTrip.IndexOfAny(['E', 'e']);
        string mantissa = exponentMark < 0 ? roundTrip : roundTrip[..exponentMark];
        int exponent = exponentMark < 0 ? 0 : int.Parse(roundTrip[(exponentMark + 1)..], CultureInfo.InvariantCulture);
        int point = mantissa.IndexOf('.');
        string integerPart = point < 0 ? mantissa : mantissa[..point];
        string fraction = point < 0 ? "" : mantissa[(point + 1)..];
        string all = integerPart + fraction;
        int leadingZeros = all.Length - all.TrimStart('0').Length;
        string digits = all.Trim('0');
        // Position of the first significant digit relative to the decimal point.
        int firstDigitExponent = integerPart.Length - 1 - leadingZeros + exponent;
        return (digits.Length == 0 ? "0" : digits, firstDigitExponent);
    }

    private static void Write(StringBuilder text, JsonNode? node, int depth, bool sortKeys, int indent)
    {
        switch (node)
        {
            case null:
                text.Append("null");
                break;
            case JsonObject obj:
                WriteObject(text, obj, depth, sortKeys, indent);
                break;
            case JsonArray array:
                WriteArray(text, array, depth, sortKeys, indent);
                break;
            case JsonValue value:
                WriteValue(text, value);
                break;
        }
    }

    private static void WriteObject(StringBuilder text, JsonObject obj, int depth, bool sortKeys, int indent)
    {
        if (obj.Count == 0)
        {
            text.Append("{}");
            return;
        }
        IEnumerable<KeyValuePair<string, JsonNode?>> entries = obj;
        if (sortKeys) entries = entries.OrderBy(e => e.Key, StringComparer.Ordinal);
        text.Append('{');
        bool first = true;
        foreach (var (key, value) in entries)
        {
            text.Append(first ? "\n" : ",\n");
            first = false;
            Indent(text, depth + 1, indent);
            WriteString(text, key);
            text.Append(": ");
            Write(text, value, depth + 1, sortKeys, indent);
        }
        text.Append('\n');
        Indent(text, depth, indent);
        text.Append('}');
    }

    private static void WriteArray(StringBuilder text, JsonArray array, int depth, bool sortKeys, int indent)
    {
        if (array.Count == 0)
        {
            text.Append("[]");
            return;
        }
        text.Append('[');
        for (int i = 0; i < array.Count; i++)
        {
            text.Append(i == 0 ? "\n" : ",\n");
            Indent(text, depth + 1, indent);
            Write(text, array[i], depth + 1, sortKeys, indent);
        }
        text.Append('\n');
        Indent(text, depth, indent);
        text.Append(']');
    }

    private static void WriteValue(StringBuilder text, JsonValue value)
    {
        // A value held as a .NET double or float (not parsed JSON text) is a Python float: 1.0, Infinity, NaN.
        if (!value.TryGetValue(out JsonElement _))
        {
            if (value.TryGetValue(out double number))
            {
                text.Append(FormatFloat(number));
                return;
            }
            if (value.TryGetValue(out float single))
            {
                text.Append(FormatFloat(single));
                return;
            }
        }
        JsonElement element = JsonSerializer.SerializeToElement(value);
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                WriteString(text, element.GetString()!);
                break;
            case JsonValueKind.Number:
                string raw = element.GetRawText();
                bool isFloat = raw.IndexOfAny(['.', 'e', 'E']) >= 0;
                text.Append(isFloat ? FormatFloat(element.GetDouble()) : raw);
                break;
            case JsonValueKind.True:
                text.Append("true");
                break;
            case JsonValueKind.False:
                text.Append("false");
                break;
            default:
                text.Append("null");
                break;
        }
    }

    private static void WriteString(StringBuilder text, string value) => AppendQuoted(text, value, escapeNonAscii: true);

    /// <summary>
    /// A JSON string with the short escapes and <c>\u00XX</c> for other controls; with <paramref name="escapeNonAscii"/>
    /// every unit outside printable ASCII is escaped too (Python's <c>ensure_ascii</c>), else kept (serde_json).
    /// </summary>
    internal static void AppendQuoted(StringBuilder text, string value, bool escapeNonAscii)
    {
        text.Append('"');
        foreach (char c in value)
        {
            switch (c)
            {
                case '"': text.Append("\\\""); break;
                case '\\': text.Append("\\\\"); break;
                case '\n': text.Append("\\n"); break;
                case '\r': text.Append("\\r"); break;
                case '\t': text.Append("\\t"); break;
                case '\b': text.Append("\\b"); break;
                case '\f': text.Append("\\f"); break;
                default:
                    if (c < 0x20 || (escapeNonAscii && c > 0x7E))
                        text.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else text.Append(c);
                    break;
            }
        }
        text.Append('"');
    }

    private static void Indent(StringBuilder text, int depth, int indent) => text.Append(' ', depth * indent);
}
