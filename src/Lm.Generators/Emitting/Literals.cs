using System.Collections.Generic;
using System.Globalization;
using System.Text;
using Lm.Schema;

namespace Lm.Generators.Emitting
{
    /// <summary>Schema values (invariant text) written as C# and JSON literals, culture-invariant.</summary>
    internal static class Literals
    {
        /// <summary>A C# expression for a value of <paramref name="field"/>.</summary>
        public static string CSharp(SchemaField field, string text)
        {
            switch (field.Kind)
            {
                case FieldKind.Text:
                    return CSharpString(text);
                case FieldKind.Number:
                    return CSharpNumber(double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture));
                case FieldKind.Map:
                    FieldText.TryParseMap(text, out List<KeyValuePair<string, double>> pairs);
                    var map = new StringBuilder("new global::System.Collections.Generic.Dictionary<string, double> {");
                    for (int i = 0; i < pairs.Count; i++)
                        map.Append(i == 0 ? " [" : ", [").Append(CSharpString(pairs[i].Key)).Append("] = ").Append(CSharpNumber(pairs[i].Value));
                    return map.Append(pairs.Count == 0 ? "}" : " }").ToString();
                default:
                    // Whole numbers and booleans are already C# literals.
                    return text;
            }
        }

        public static string CSharpString(string value) => FieldText.Quote(value, json: false);

        private static string CSharpNumber(double value)
        {
            if (double.IsNaN(value)) return "global::System.Double.NaN";
            if (double.IsPositiveInfinity(value)) return "global::System.Double.PositiveInfinity";
            if (double.IsNegativeInfinity(value)) return "global::System.Double.NegativeInfinity";
            return FieldText.Number(value);
        }
    }
}
