namespace Lm.Runtime.Data;

/// <summary>
/// What the data pipeline needs from a tokenizer: text to ids and the few special ids that preprocessing and the
/// masking collator depend on. an adapter over <c>LmTokenizer</c> serves the product's tokenizer; tests may use
/// any small encoder. Implementations must be safe to call from several threads at once.
/// </summary>
public interface ITextEncoder
{
    /// <summary>
    /// Appends the ids of <paramref name="text"/> without special tokens (HF <c>add_special_tokens=False</c>).
    /// </summary>
    void EncodeContent(ReadOnlySpan<char> text, List<int> ids);

    /// <summary>Ids <c>tokenizer(text)</c> puts before the content (<c>&lt;s&gt;</c> for RoBERTa, <c>[CLS]</c> for BERT, none for GPT-2).</summary>
    IReadOnlyList<int> PrefixIds { get; }

    /// <summary>Ids <c>tokenizer(text)</c> puts after the content (<c>&lt;/s&gt;</c>, <c>[SEP]</c>; none for GPT-2).</summary>
    IReadOnlyList<int> SuffixIds { get; }

    /// <summary><c>len(tokenizer)</c>: vocabulary plus added tokens; random replacement ids are drawn below it.</summary>
    int VocabSize { get; }

    /// <summary><c>tokenizer.model_max_length</c>.</summary>
    int ModelMaxLength { get; }

    /// <summary>The padding id, when the tokenizer has a pad token.</summary>
    int? PadTokenId { get; }

    /// <summary>The mask id, when the tokenizer has a mask token (masked LM needs one).</summary>
    int? MaskTokenId { get; }

    /// <summary><c>tokenizer.all_special_ids</c>: never selected for masking.</summary>
    IReadOnlyCollection<int> SpecialTokenIds { get; }

    /// <summary>The token string of an id (WordPiece: <c>##</c> marks a word continuation), for whole-word masking.</summary>
    string IdToToken(int id);

    /// <summary>
    /// Identifies the tokenizer's behaviour (vocabulary, merges, normalization, special tokens): two encoders with the
    /// same fingerprint give the same ids. Part of the token cache key.
    /// </summary>
    string Fingerprint { get; }
}

/// <summary>Encoding helpers over <see cref="ITextEncoder"/>.</summary>
public static class TextEncoderExtensions
{
    /// <summary>Appends the ids <c>tokenizer(text)</c> gives: prefix, content, suffix.</summary>
    public static void Encode(this ITextEncoder encoder, ReadOnlySpan<char> text, List<int> ids)
    {
        ids.AddRange(encoder.PrefixIds);
        encoder.EncodeContent(text, ids);
        ids.AddRange(encoder.SuffixIds);
    }

    /// <summary>
    /// Appends the ids of <c>tokenizer(text, truncation=True, max_length=maxLength)</c>: the content is cut from the
    /// right so that content plus special tokens fit <paramref name="maxLength"/>.
    /// </summary>
    public static void EncodeTruncated(this ITextEncoder encoder, ReadOnlySpan<char> text, List<int> ids, int maxLength)
    {
        ids.AddRange(encoder.PrefixIds);
        int contentStart = ids.Count;
        encoder.EncodeContent(text, ids);
        int room = Math.Max(0, maxLength - encoder.PrefixIds.Count - encoder.SuffixIds.Count);
        int contentLength = ids.Count - contentStart;
        if (contentLength > room) ids.RemoveRange(contentStart + room, contentLength - room);
        ids.AddRange(encoder.SuffixIds);
    }
}
