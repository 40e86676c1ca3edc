using System.Text.Json.Nodes;

namespace Lm.Runtime.Tokenization;

/// <summary>GPT-2 / RoBERTa tokenizer: <see cref="ByteLevelBpeModel"/> and the byte-level decoder.</summary>
internal sealed class ByteLevelBpeTokenizer : LmTokenizer
{
    private readonly ByteLevelBpeModel _model;

    public ByteLevelBpeTokenizer(ByteLevelBpeModel model, TokenizerSettings settings)
        : base(settings, model.TokenToId, model.VocabularySize, normalize: null)
    {
        _model = model;
    }

    public override TokenizerKind Kind => TokenizerKind.ByteLevelBpe;

    internal ByteLevelBpeModel Model => _model;

    private protected override int? ModelTokenToId(string token) => _model.TokenToId(token);

    private protected override string? ModelIdToToken(int id) => _model.IdToToken(id);

    private protected override string? Normalize(ReadOnlySpan<char> text) => null;

    private protected override void EncodeModel(ReadOnlySpan<char> normalizedText, bool atTextStart, List<int> ids) => _model.Encode(normalizedText, ids);

    /// <summary>
    /// tokenizers' ByteLevel decoder: a token spelled entirely in the byte alphabet becomes its bytes, any other
    /// token (an added token such as "hello world") its own UTF-8; the bytes are read as UTF-8 with U+FFFD for
    /// invalid sequences.
    /// </summary>
    private protected override string DecodeTokens(IReadOnlyList<string> tokens) => TokenizerJson.ByteLevelDecoder.DecodeBytes(tokens);

    internal override void WriteVocabularyFiles(string folder) => PretrainedTokenizerWriter.WriteBpeVocabulary(_model, folder);

    internal override IEnumerable<string> ModelIdentity()
    {
        yield return $"byte-level bpe add_prefix_space={_model.AddPrefixSpace} ignore_merges={_model.IgnoreMerges} unk={_model.UnknownToken}";
        foreach ((string token, int id) in _model.VocabularyInIdOrder())
        {
            yield return $"{id} {token}";
        }

        foreach ((string left, string right) in _model.Merges)
        {
            yield return $"{left} {right}";
        }
    }

    internal override IEnumerable<KeyValuePair<string, JsonNode?>> ConfigEntries()
    {
        yield return new("add_prefix_space", _model.AddPrefixSpace);
        yield return new("errors", "replace");
        if (TokenizerClass == "GPT2Tokenizer")
        {
            yield return new("add_bos_token", PrefixTokenIds.Count > 0);
        }
        else if (TokenizerClass == "RobertaTokenizer")
        {
            yield return new("trim_offsets", true);
        }
    }
}
