using Lm.Runtime.Data;
using Microsoft.ML.Tokenizers;

namespace Lm.Runtime.Tests.Data;

/// <summary>
/// A transparent encoder for pipeline tests: each character is one token, id = 10 + (code % 990), so ids are easy to
/// predict by hand. Optional prefix/suffix ids play the part of RoBERTa's &lt;s&gt; ... &lt;/s&gt;.
/// </summary>
internal sealed class CharEncoder : ITextEncoder
{
    public const int Pad = 0, Mask = 1, Bos = 2, Eos = 3, Unknown = 4;

    public CharEncoder(bool addSpecialTokens = false, int modelMaxLength = 512, string salt = "", int vocabSize = 1000)
    {
        VocabSize = vocabSize;
        PrefixIds = addSpecialTokens ? [Bos] : [];
        SuffixIds = addSpecialTokens ? [Eos] : [];
        ModelMaxLength = modelMaxLength;
        Fingerprint = $"char-encoder|{addSpecialTokens}|{vocabSize}|{salt}";
    }

    public static int Id(char c) => 10 + c % 990;

    public void EncodeContent(ReadOnlySpan<char> text, List<int> ids)
    {
        foreach (char c in text) ids.Add(Id(c));
    }

    public IReadOnlyList<int> PrefixIds { get; }
    public IReadOnlyList<int> SuffixIds { get; }
    public int VocabSize { get; }
    public int ModelMaxLength { get; }
    public int? PadTokenId => Pad;
    public int? MaskTokenId => Mask;
    public IReadOnlyCollection<int> SpecialTokenIds => [Pad, Mask, Bos, Eos, Unknown];
    public string IdToToken(int id) => id < 10 ? $"[S{id}]" : ((char)(id - 10)).ToString();
    public string Fingerprint { get; }
}

/// <summary>
/// A <see cref="CharEncoder"/> that runs <see cref="BeforeRow"/> before encoding each row: the base of the test
/// encoders that fail, cancel or hold up tokenizing at a chosen row.
/// </summary>
internal abstract class HookedCharEncoder : ITextEncoder
{
    private readonly CharEncoder _inner = new();

    protected abstract void BeforeRow(ReadOnlySpan<char> text);

    public void EncodeContent(ReadOnlySpan<char> text, List<int> ids)
    {
        BeforeRow(text);
        _inner.EncodeContent(text, ids);
    }

    public IReadOnlyList<int> PrefixIds => _inner.PrefixIds;
    public IReadOnlyList<int> SuffixIds => _inner.SuffixIds;
    public int VocabSize => _inner.VocabSize;
    public int ModelMaxLength => _inner.ModelMaxLength;
    public int? PadTokenId => _inner.PadTokenId;
    public int? MaskTokenId => _inner.MaskTokenId;
    public IReadOnlyCollection<int> SpecialTokenIds => _inner.SpecialTokenIds;
    public string IdToToken(int id) => _inner.IdToToken(id);
    public virtual string Fingerprint => _inner.Fingerprint;
}

/// <summary>
/// GPT-2's byte-level BPE from Microsoft.ML.Tokenizers' tiktoken data (token id = rank, as GPT-2's vocab.json): an
/// oracle for expected ids that is independent of the product's own tokenizer.
/// </summary>
internal static class TiktokenGpt2
{
    private static readonly Lazy<TiktokenTokenizer> Shared = new(() => TiktokenTokenizer.CreateForModel("gpt2"));

    public static IReadOnlyList<int> Ids(string text) => Shared.Value.EncodeToIds(text);
}
