using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Lm.Runtime.Tokenization.TokenizerJson;

/// <summary>
/// A tokenizer.json <c>normalizer</c>: rewrites each stretch of text between added tokens before it is split
/// (tokenizers' <c>normalizers/*.rs</c>). Only the text matters here, not the alignments tokenizers keeps for
/// offsets, because lm-tune needs ids.
/// </summary>
internal abstract class TextNormalizer
{
    public abstract string Normalize(string text);

    /// <summary>Reads a normalizer object; null for JSON null.</summary>
    public static TextNormalizer? Read(JsonNode? node, string path)
    {
        if (node is null)
        {
            return null;
        }

        string type = TokenizerJsonValues.Type(node, path, "normalizer");
        return type switch
        {
            "NFC" => new UnicodeNormalizer(NormalizationForm.FormC),
            "NFD" => new UnicodeNormalizer(NormalizationForm.FormD),
            "NFKC" => new UnicodeNormalizer(NormalizationForm.FormKC),
            "NFKD" => new UnicodeNormalizer(NormalizationForm.FormKD),
            "Lowercase" => new LowercaseNormalizer(),
            "Strip" => new StripNormalizer(
                TokenizerJsonValues.Bool(node, "strip_left") ?? true,
                TokenizerJsonValues.Bool(node, "strip_right") ?? true),
            "StripAccents" => new StripAccentsNormalizer(),
            "Replace" => new ReplaceNormalizer(
                TokenizerJsonValues.ReadPattern(node["pattern"], path, "normalizer"),
                TokenizerJsonValues.String(node, "content", path, "normalizer")),
            "Prepend" => new PrependNormalizer(TokenizerJsonValues.String(node, "prepend", path, "normalizer")),
            "Sequence" => new SequenceNormalizer(
                TokenizerJsonValues.Array(node, "normalizers", path, "normalizer").Select(n => Read(n, path)!).ToArray()),
            "BertNormalizer" => new BertTextNormalizer(new BertNormalizer(
                CleanText: TokenizerJsonValues.Bool(node, "clean_text") ?? true,
                HandleChineseChars: TokenizerJsonValues.Bool(node, "handle_chinese_chars") ?? true,
                StripAccents: TokenizerJsonValues.Bool(node, "strip_accents"),
                Lowercase: TokenizerJsonValues.Bool(node, "lowercase") ?? true)),
            _ => throw TokenizerJsonValues.Unsupported(path, "normalizer", type),
        };
    }
}

/// <summary>NFC, NFD, NFKC, NFKD.</summary>
internal sealed class UnicodeNormalizer(NormalizationForm form) : TextNormalizer
{
    public override string Normalize(string text) => UnicodeNormalization.Normalize(text, form);
}

/// <summary>
/// Rust's <c>char::to_lowercase</c> per code point: the full mapping, so İ (U+0130) becomes "i̇" (two code points)
/// where .NET's simple mapping gives "i"; no context rules (Σ is always σ).
/// </summary>
internal sealed class LowercaseNormalizer : TextNormalizer
{
    public override string Normalize(string text)
    {
        var result = new StringBuilder(text.Length);
        foreach (Rune rune in text.EnumerateRunes())
        {
            if (rune.Value == 0x130)
            {
                result.Append("i\u0307");
            }
            else
            {
                result.Append(Rune.ToLowerInvariant(rune).ToString());
            }
        }

        return result.ToString();
    }
}

/// <summary>Removes whitespace (Rust's <c>char::is_whitespace</c>, the same set as .NET's) at either end.</summary>
internal sealed class StripNormalizer(bool left, bool right) : TextNormalizer
{
    public override string Normalize(string text) => (left, right) switch
    {
        (true, true) => text.Trim(),
        (true, false) => text.TrimStart(),
        (false, true) => text.TrimEnd(),
        _ => text,
    };
}

/// <summary>Removes combining marks (general category M), as <c>StripAccents</c> does after NFD.</summary>
internal sealed class StripAccentsNormalizer : TextNormalizer
{
    public override string Normalize(string text)
    {
        var result = new StringBuilder(text.Length);
        foreach (Rune rune in text.EnumerateRunes())
        {
            if (Rune.GetUnicodeCategory(rune) is not (UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark))
            {
                result.Append(rune.ToString());
            }
        }

        return result.ToString();
    }
}

/// <summary>Replaces every match of a string or regex pattern with literal content.</summary>
internal sealed class ReplaceNormalizer(OnigurumaRegex pattern, string content) : TextNormalizer
{
    public override string Normalize(string text) => pattern.Replace(text, content);
}

/// <summary>Puts a string in front of non-empty text (SentencePiece's "▁" in Llama 2 style files).</summary>
internal sealed class PrependNormalizer(string prepend) : TextNormalizer
{
    public override string Normalize(string text) => text.Length == 0 ? text : prepend + text;
}

internal sealed class SequenceNormalizer(TextNormalizer[] steps) : TextNormalizer
{
    public override string Normalize(string text)
    {
        foreach (TextNormalizer step in steps)
        {
            text = step.Normalize(text);
        }

        return text;
    }
}

/// <summary>BERT's normalizer, shared with the WordPiece fast path.</summary>
internal sealed class BertTextNormalizer(BertNormalizer normalizer) : TextNormalizer
{
    public override string Normalize(string text) => normalizer.Normalize(text);
}
