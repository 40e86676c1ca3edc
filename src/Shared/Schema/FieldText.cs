using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace Lm.Schema
{
    /// <summary>
    /// A schema value written as text — a CLI flag value, MSBuild item metadata, an attribute argument — read the one
    /// way every front end reads it. <see cref="TryNormalize"/> gives the value's invariant text (<c>2E-05</c>,
    /// <c>128</c>, <c>true</c>), <see cref="ToJson"/> the JSON value the job file holds.
    /// </summary>
    internal static class FieldText
    {
        /// <summary>
        /// The invariant text of <paramref name="text"/> as a value of <paramref name="field"/>, or null when it does not
        /// fit the field's kind. Text values are kept as written; numbers use the shortest round-trip form.
        /// </summary>
        public static string? TryNormalize(SchemaField field, string text)
        {
            string trimmed = text.Trim();
            switch (field.Kind)
            {
                case FieldKind.Integer:
                    return long.TryParse(trimmed, NumberStyles.Integer, CultureInfo.InvariantCulture, out long integer)
                        && integer >= int.MinValue && integer <= int.MaxValue
                        ? integer.ToString(CultureInfo.InvariantCulture)
                        : null;
                case FieldKind.Number:
                    return TryParseFinite(trimmed, out double number) ? Number(number) : null;
                case FieldKind.Boolean:
                    return bool.TryParse(trimmed, out bool flag) ? (flag ? "true" : "false") : null;
                case FieldKind.Map:
                    // Kept as written, so that messages quote it as the user wrote it; ToJson reads the pairs.
                    return TryParseMap(trimmed, out _) ? trimmed : null;
                default:
                    return text;
            }
        }

        /// <summary>
        /// <c>lr_scheduler_kwargs</c> written as text: <c>key=number</c> pairs separated by commas
        /// (<c>power=2,lr_end=1e-7</c>), as HF's command line takes it. A repeated key keeps its last value, as a JSON
        /// object built pair by pair would.
        /// </summary>
        public static bool TryParseMap(string text, out List<KeyValuePair<string, double>> pairs)
        {
            pairs = new List<KeyValuePair<string, double>>();
            foreach (string part in text.Split(','))
            {
                string pair = part.Trim();
                if (pair.Length == 0) continue;
                int eq = pair.IndexOf('=');
                if (eq <= 0) return false;
                string key = pair.Substring(0, eq).Trim();
                if (key.Length == 0 || !TryParseFinite(pair.Substring(eq + 1).Trim(), out double value)) return false;
                int existing = pairs.FindIndex(p => p.Key == key);
                if (existing >= 0) pairs[existing] = new KeyValuePair<string, double>(key, value);
                else pairs.Add(new KeyValuePair<string, double>(key, value));
            }
            return true;
        }

        /// <summary>The JSON value of a field's invariant text (from <see cref="TryNormalize"/>), as <c>FineTuneJob.FromJson</c> reads it.</summary>
        public static string ToJson(SchemaField field, string normalized)
        {
            switch (field.Kind)
            {
                case FieldKind.Text:
                    return JsonString(normalized);
                case FieldKind.Number:
                    double number = double.Parse(normalized, NumberStyles.Float, CultureInfo.InvariantCulture);
                    // JSON has no NaN or infinities; such a value is already an error where it was written.
                    return double.IsNaN(number) || double.IsInfinity(number) ? "null" : Number(number);
                case FieldKind.Map:
                    TryParseMap(normalized, out List<KeyValuePair<string, double>> pairs);
                    var map = new StringBuilder("{");
                    for (int i = 0; i < pairs.Count; i++)
                        map.Append(i == 0 ? "" : ",").Append(JsonString(pairs[i].Key)).Append(':').Append(Number(pairs[i].Value));
                    return map.Append('}').ToString();
                default:
                    // Whole numbers and booleans are already JSON.
                    return normalized;
            }
        }

        /// <summary>A JSON string literal: the common escapes, and <c>\uXXXX</c> for other control characters.</summary>
        public static string JsonString(string value) => Quote(value, json: true);

        /// <summary>
        /// A quoted string literal. C# and JSON share the common escapes; the rest become <c>\uXXXX</c>: control
        /// characters in both, and in C# also the characters it reads as line breaks inside a literal.
        /// </summary>
        public static string Quote(string value, bool json)
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

        // "R" is the shortest text that reads back to the same double, in C# and in JSON alike (2E-05, 0.01, 3).
        public static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);

        private static bool TryParseFinite(string text, out double value) =>
            double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value)
            && !double.IsNaN(value) && !double.IsInfinity(value);
    }

    /// <summary>
    /// "Did you mean": the one rule every front end uses for a misspelt name or choice. Names compare
    /// case-insensitively with <c>-</c> read as <c>_</c>; a candidate is suggested when it is at most two edits away
    /// and at most one edit per four characters (at least one).
    /// </summary>
    internal static class Suggestion
    {
        /// <summary>The candidate closest to <paramref name="unknown"/> when it is close enough to be a typo, else null.</summary>
        public static string? Nearest(string unknown, IEnumerable<string> candidates)
        {
            string key = Normalize(unknown);
            string? best = null;
            int bestDistance = int.MaxValue;
            foreach (string candidate in candidates)
            {
                if (string.Equals(candidate, unknown, StringComparison.Ordinal)) continue;
                int distance = EditDistance(key, Normalize(candidate));
                if (distance < bestDistance)
                {
                    best = candidate;
                    bestDistance = distance;
                }
            }
            return bestDistance <= Math.Min(2, Math.Max(1, key.Length / 4)) ? best : null;
        }

        private static string Normalize(string name) => name.Trim().TrimStart('-').Replace('-', '_').ToLowerInvariant();

        /// <summary>Levenshtein distance: insertions, deletions and substitutions each cost one.</summary>
        public static int EditDistance(string a, string b)
        {
            var previous = new int[b.Length + 1];
            var current = new int[b.Length + 1];
            for (int j = 0; j <= b.Length; j++) previous[j] = j;
            for (int i = 1; i <= a.Length; i++)
            {
                current[0] = i;
                for (int j = 1; j <= b.Length; j++)
                {
                    int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                    current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
                }
                int[] swap = previous;
                previous = current;
                current = swap;
            }
            return previous[b.Length];
        }
    }
}
