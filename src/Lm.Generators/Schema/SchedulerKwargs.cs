using System.Collections.Generic;
using System.Globalization;

namespace Lm.Generators.Schema
{
    /// <summary>
    /// <c>lr_scheduler_kwargs</c> written as text: <c>key=number</c> pairs separated by commas
    /// (<c>power=2,lr_end=1e-7</c>), the form Lm.Runtime's <c>JobField.ParseText</c> reads for map fields.
    /// </summary>
    internal static class SchedulerKwargs
    {
        public static bool TryParse(string text, out List<KeyValuePair<string, double>> pairs)
        {
            pairs = new List<KeyValuePair<string, double>>();
            foreach (string part in text.Split(','))
            {
                string pair = part.Trim();
                if (pair.Length == 0) continue;
                int eq = pair.IndexOf('=');
                if (eq <= 0) return false;
                string key = pair.Substring(0, eq).Trim();
                if (key.Length == 0
                    || !double.TryParse(pair.Substring(eq + 1).Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
                    || double.IsNaN(value) || double.IsInfinity(value))
                    return false;
                // A repeated key keeps its last value, as a JSON object built pair by pair would.
                int existing = pairs.FindIndex(p => p.Key == key);
                if (existing >= 0) pairs[existing] = new KeyValuePair<string, double>(key, value);
                else pairs.Add(new KeyValuePair<string, double>(key, value));
            }
            return true;
        }
    }
}
