using System.Collections.Generic;
using System.Globalization;
using System.Text;
using Lm.Generators.Schema;

namespace Lm.Generators.Emitting
{
    /// <summary>Schema values (invariant text) written as C# and JSON literals, culture-invariant.</summary>
    internal static class Literals
    {
        /// <summary>A C# expression for a value of <paramref name="field"/>.</summary>
        public static string CSharp(KnownField field, string text)
        {
            switch (field.Kind)
            {
                case FieldKind.Text:
                    return CSharpString(text);
                case FieldKind.Number:
                    return CSharpNumber(double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture));
                case FieldKind.Map:
                    SchedulerKwargs.TryParse(text, out List<KeyValuePair<string, double>> pairs);
                    var map = new StringBuilder("new global::System.Collections.Generic.Dictionary<string, double> {");
                    for (int i = 0; i < pairs.Count; i++)
                        map.Append(i == 0 ? " [" : ", [").Append(CSharpString(pairs[i].Key)).Append("] = ").Append(CSharpNumber(pairs[i].Value));
                    return map.Append(pairs.Count == 0 ? "}" : " }").ToString();
                default:
                    // Whole numbers and booleans are already C# literals.
                    return text;
            }
        }

        /// <summary>A JSON value for a value of <paramref name="field"/>, as <c>FineTuneJob.FromJson</c> reads it.</summary>
        public static string Json(KnownField field, string text)
        {
            switch (field.Kind)
            {
                case FieldKind.Text:
                    return JsonString(text);
                case FieldKind.Number:
                    double number = double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
                    // JSON has no NaN or infinities; such a value is already an error diagnostic.
                    return double.IsNaN(number) || double.IsInfinity(number) ? "null" : Number(number);
                case FieldKind.Map:
                    SchedulerKwargs.TryParse(text, out List<KeyValuePair<string, double>> pairs);
                    var map = new StringBuilder("{");
                    for (int i = 0; i < pairs.Count; i++)
                        map.Append(i == 0 ? "" : ",").Append(JsonString(pairs[i].Key)).Append(':').Append(Number(pairs[i].Value));
                    return map.Append('}').ToString();
                default:
                    return text;
            }
        }

        public static string CSharpString(string value) => Quote(value, json: false);

        public static string JsonString(string value) => Quote(value, json: true);

        /// <summary>
        /// A quoted string literal. C# and JSON share the common escapes; the rest become <c>\uXXXX</c>: control
        /// characters in both, and in C# also the characters it reads as line breaks inside a literal.
        /// </summary>
        private static string Quote(string value, bool json)
        {
            var builder = new StringBuilder(value.Length + 2).Append('"');
            foreach (char c in value)
            {
                switch (c)
                {
                    case '"': builder.Append("\\\""); break;
                    case '\\': builder.Append("\\\\"); break;
                    case '\n': builder.Append("\\n"); break;
                    case '\r': builder.Append("\\r"); break;
                    case '\t': builder.Append("\\t"); break;
                    default:
                        bool escape = char.IsControl(c) || (!json && (c == '\u2028' || c == '\u2029'));
                        if (escape)
                            builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        else
                            builder.Append(c);
                        break;
                }
            }
            return builder.Append('"').ToString();
        }

        private static string CSharpNumber(double value)
        {
            if (double.IsNaN(value)) return "global::System.Double.NaN";
            if (double.IsPositiveInfinity(value)) return "global::System.Double.PositiveInfinity";
            if (double.IsNegativeInfinity(value)) return "global::System.Double.NegativeInfinity";
            return Number(value);
        }

        // "R" is the shortest text that reads back to the same double, in C# and in JSON alike (2E-05, 0.01, 3).
        private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);
    }
}
