using System.Globalization;
using System.Text;

namespace Lm.Runtime.Tokenization.TokenizerJson;

/// <summary>
/// Unicode normalization (NFC, NFD, NFKC, NFKD) by the standard algorithm: full decomposition, canonical ordering
/// of combining marks, then canonical composition for the C forms.
/// </summary>
/// <remarks>
/// <see cref="string.Normalize()"/> cannot be used: with invariant globalization (this repository's default and a
/// common deployment setting) .NET returns non-ASCII text unchanged. The data comes from
/// <see cref="UnicodeNormalizationData"/>; Hangul syllables are decomposed and composed arithmetically.
/// </remarks>
internal static class UnicodeNormalization
{
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7, LCount = 19, VCount = 21, TCount = 28;
    private const int NCount = VCount * TCount, SCount = LCount * NCount;

    private static readonly Lazy<Tables> s_tables = new(Tables.Build);

    public static string Normalize(string text, NormalizationForm form)
    {
        bool compatibility = form is NormalizationForm.FormKC or NormalizationForm.FormKD;
        bool compose = form is NormalizationForm.FormC or NormalizationForm.FormKC;
        if (IsAscii(text))
        {
            return text;
        }

        Tables tables = s_tables.Value;
        var codePoints = new List<int>(text.Length);
        foreach (Rune rune in text.EnumerateRunes())
        {
            Decompose(rune.Value, compatibility, tables, codePoints);
        }

        // Canonical ordering: a stable sort of each run of non-starters by combining class.
        for (int i = 1; i < codePoints.Count; i++)
        {
            int ccc = tables.CombiningClass(codePoints[i]);
            if (ccc == 0)
            {
                continue;
            }

            for (int j = i; j > 0 && tables.CombiningClass(codePoints[j - 1]) > ccc; j--)
            {
                (codePoints[j - 1], codePoints[j]) = (codePoints[j], codePoints[j - 1]);
            }
        }

        if (compose)
        {
            Compose(codePoints, tables);
        }

        var result = new StringBuilder(codePoints.Count);
        foreach (int codePoint in codePoints)
        {
            result.Append(char.ConvertFromUtf32(codePoint));
        }

        return result.ToString();
    }

    private static bool IsAscii(string text)
    {
        foreach (char c in text)
        {
            if (c >= 0x80)
            {
                return false;
            }
        }

        return true;
    }

    private static void Decompose(int codePoint, bool compatibility, Tables tables, List<int> output)
    {
        int s = codePoint - SBase;
        if (s is >= 0 and < SCount)
        {
            output.Add(LBase + (s / NCount));
            output.Add(VBase + (s % NCount / TCount));
            if (s % TCount != 0)
            {
                output.Add(TBase + (s % TCount));
            }

            return;
        }

        if (tables.Decompositions.TryGetValue(codePoint, out (bool Compatibility, int[] Parts) mapping) && (compatibility || !mapping.Compatibility))
        {
            foreach (int part in mapping.Parts)
            {
                Decompose(part, compatibility, tables, output);
            }

            return;
        }

        output.Add(codePoint);
    }

    /// <summary>The canonical composition algorithm (UAX #15): each character joins the last starter unless blocked.</summary>
    private static void Compose(List<int> codePoints, Tables tables)
    {
        if (codePoints.Count == 0)
        {
            return;
        }

        int starter = tables.CombiningClass(codePoints[0]) == 0 ? 0 : -1;
        int lastClass = starter == 0 ? 0 : 256;
        int write = 1;
        for (int read = 1; read < codePoints.Count; read++)
        {
            int c = codePoints[read];
            int ccc = tables.CombiningClass(c);
            bool blocked = starter < 0 || (lastClass != 0 && lastClass >= ccc) || (lastClass == 0 && write - 1 != starter);
            if (!blocked && TryCompose(codePoints[starter], c, tables, out int composite))
            {
                codePoints[starter] = composite;
                continue;
            }

            if (ccc == 0)
            {
                starter = write;
            }

            lastClass = ccc;
            codePoints[write++] = c;
        }

        codePoints.RemoveRange(write, codePoints.Count - write);
    }

    private static bool TryCompose(int first, int second, Tables tables, out int composite)
    {
        int l = first - LBase, v = second - VBase;
        if (l is >= 0 and < LCount && v is >= 0 and < VCount)
        {
            composite = SBase + (((l * VCount) + v) * TCount);
            return true;
        }

        int s = first - SBase, t = second - TBase;
        if (s is >= 0 and < SCount && s % TCount == 0 && t is > 0 and < TCount)
        {
            composite = first + t;
            return true;
        }

        return tables.Composites.TryGetValue(((long)first << 21) | (uint)second, out composite);
    }

    private sealed class Tables
    {
        public Dictionary<int, (bool Compatibility, int[] Parts)> Decompositions { get; } = [];

        public Dictionary<int, int> CombiningClasses { get; } = [];

        public Dictionary<long, int> Composites { get; } = [];

        public int CombiningClass(int codePoint) => CombiningClasses.GetValueOrDefault(codePoint);

        public static Tables Build()
        {
            var tables = new Tables();
            foreach (string entry in UnicodeNormalizationData.Decompositions.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                int colon = entry.IndexOf(':');
                int codePoint = Hex(entry[1..colon]);
                int[] parts = entry[(colon + 1)..].Split('+').Select(Hex).ToArray();
                tables.Decompositions[codePoint] = (entry[0] == 'K', parts);
            }

            foreach (string entry in UnicodeNormalizationData.CombiningClasses.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                int colon = entry.IndexOf(':');
                tables.CombiningClasses[Hex(entry[..colon])] = int.Parse(entry[(colon + 1)..], CultureInfo.InvariantCulture);
            }

            foreach (string entry in UnicodeNormalizationData.PrimaryComposites.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                int composite = Hex(entry);
                int[] parts = tables.Decompositions[composite].Parts;
                tables.Composites[((long)parts[0] << 21) | (uint)parts[1]] = composite;
            }

            return tables;
        }

        private static int Hex(string text) => int.Parse(text, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
    }
}
