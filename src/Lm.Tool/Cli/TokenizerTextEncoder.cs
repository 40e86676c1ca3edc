using Lm.Runtime.Data;
using Lm.Runtime.Tokenization;

namespace Lm.Tool.Cli;

/// <summary>The data pipeline's view of an <see cref="LmTokenizer"/> (its fingerprint keys the token cache).</summary>
internal sealed class TokenizerTextEncoder(LmTokenizer tokenizer) : ITextEncoder
{
    public void EncodeContent(ReadOnlySpan<char> text, List<int> ids) => tokenizer.EncodeInto(text, ids, addSpecialTokens: false);

    public IReadOnlyList<int> PrefixIds => tokenizer.PrefixTokenIds;

    public IReadOnlyList<int> SuffixIds => tokenizer.SuffixTokenIds;

    public int VocabSize => tokenizer.VocabSize;

    public int ModelMaxLength => tokenizer.ModelMaxLength;

    public int? PadTokenId => tokenizer.PadTokenId;

    public int? MaskTokenId => tokenizer.MaskTokenId;

    public IReadOnlyCollection<int> SpecialTokenIds => tokenizer.AllSpecialIds;

    public string IdToToken(int id) => tokenizer.ConvertIdToToken(id) ?? "";

    public string Fingerprint => tokenizer.Fingerprint;
}
