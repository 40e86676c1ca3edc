namespace Lm.Runtime.Tokenization;

/// <summary>
/// GPT-2's reversible table between the 256 byte values and printable characters (<c>bytes_to_unicode</c>):
/// byte-level BPE vocabularies spell every token with these characters, so a space byte is <c>Ġ</c> (U+0120).
/// Printable Latin-1 bytes map to themselves; the other 68 bytes map to U+0100 onwards, in byte order.
/// </summary>
internal static class ByteLevelAlphabet
{
    private static readonly char[] s_byteToChar = BuildByteToChar();
    private static readonly short[] s_charToByte = BuildCharToByte(s_byteToChar);

    /// <summary>The character that spells byte <paramref name="value"/> in a byte-level vocabulary.</summary>
    public static char ToChar(byte value) => s_byteToChar[value];

    /// <summary>The byte a vocabulary character stands for; false for characters outside the alphabet.</summary>
    public static bool TryGetByte(char c, out byte value)
    {
        if (c < s_charToByte.Length && s_charToByte[c] >= 0)
        {
            value = (byte)s_charToByte[c];
            return true;
        }

        value = 0;
        return false;
    }

    /// <summary>Spells raw bytes with the alphabet: the form tokens take in vocab.json and merges.txt.</summary>
    public static string Spell(ReadOnlySpan<byte> bytes)
    {
        return string.Create(bytes.Length, bytes.ToArray(), static (chars, source) =>
        {
            for (int i = 0; i < source.Length; i++)
            {
                chars[i] = s_byteToChar[source[i]];
            }
        });
    }

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        var assigned = new bool[256];
        foreach ((int first, int last) in new[] { ('!', '~'), ('¡', '¬'), ('®', 'ÿ') })
        {
            for (int b = first; b <= last; b++)
            {
                map[b] = (char)b;
                assigned[b] = true;
            }
        }

        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            if (!assigned[b])
            {
                map[b] = (char)next++;
            }
        }

        return map;
    }

    private static short[] BuildCharToByte(char[] byteToChar)
    {
        var reverse = new short[byteToChar.Max() + 1];
        Array.Fill(reverse, (short)-1);
        for (int b = 0; b < byteToChar.Length; b++)
        {
            reverse[byteToChar[b]] = (short)b;
        }

        return reverse;
    }
}
