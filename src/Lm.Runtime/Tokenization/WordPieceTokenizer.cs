using System.Text;
using System.Text.Json.Nodes;

namespace Lm.Runtime.Tokenization;

/// <summary>BERT tokenizer: <see cref="WordPieceModel"/> and the WordPiece decoder.</summary>
internal sealed class WordPieceTokenizer : LmTokenizer
{
    private readonly WordPieceModel _model;

    public WordPieceTokenizer(WordPieceModel model, TokenizerSettings settings)
        : base(settings, model.TokenToId, model.VocabularySize, model.Normalizer is null ? null : text => model.Normalizer.Normalize(text))
    {
        _model = model;
    }

    public override TokenizerKind Kind => TokenizerKind.WordPiece;

    internal WordPieceModel Model => _model;

    private protected override int? ModelTokenToId(string token) => _model.TokenToId(token);

    private protected override string? ModelIdToToken(int id) => _model.IdToToken(id);

    private protected override string? Normalize(ReadOnlySpan<char> text) => _model.Normalizer?.Normalize(text);

    private protected override void EncodeModel(ReadOnlySpan<char> normalizedText, bool atTextStart, List<int> ids) => _model.Encode(normalizedText, ids);

    /// <summary>
    /// tokenizers' WordPiece decoder (a <c>##</c> piece joins the token before it, any other token is preceded by
    /// a space, and each token is cleaned up), then transformers' <c>clean_up_tokenization</c> of the whole text
    /// when <see cref="LmTokenizer.CleanUpTokenizationSpaces"/>.
    /// </summary>
    private protected override string DecodeTokens(IReadOnlyList<string> tokens)
    {
        var text = new StringBuilder();
        string prefix = _model.ContinuingSubwordPrefix;
        for (int i = 0; i < tokens.Count; i++)
        {
            string token = tokens[i];
            if (i > 0)
            {
                token = prefix.Length > 0 && token.StartsWith(prefix, StringComparison.Ordinal) ? token[prefix.Length..] : " " + token;
            }

            text.Append(CleanUpDecoderToken(token));
        }

        return CleanUpTokenizationSpaces ? CleanUpTokenization(text.ToString()) : text.ToString();
    }

    internal override void WriteVocabularyFiles(string folder) => PretrainedTokenizerWriter.WriteWordPieceVocabulary(_model, folder);

    internal override IEnumerable<string> ModelIdentity()
    {
        yield return $"wordpiece unk={_model.UnknownToken} prefix={_model.ContinuingSubwordPrefix} max_chars={_model.MaxInputCharsPerWord}";
        yield return $"normalizer {_model.Normalizer}";
        foreach ((string token, int id) in _model.VocabularyInIdOrder())
        {
            yield return $"{id} {token}";
        }
    }

    internal override IEnumerable<KeyValuePair<string, JsonNode?>> ConfigEntries()
    {
        BertNormalizer? normalizer = _model.Normalizer;
        yield return new("do_lower_case", normalizer?.Lowercase ?? false);
        yield return new("strip_accents", normalizer?.StripAccents);
        yield return new("tokenize_chinese_chars", normalizer?.HandleChineseChars ?? false);
    }

    /// <summary>The cleanup tokenizers' WordPiece decoder applies to each token (it also turns "do not" into "don't").</summary>
    private static string CleanUpDecoderToken(string token) => CleanUp(token, doNot: true);

    /// <summary>transformers' <c>clean_up_tokenization</c>.</summary>
    private static string CleanUpTokenization(string text) => CleanUp(text, doNot: false);

    internal static string CleanUp(string text, bool doNot)
    {
        text = text
            .Replace(" .", ".", StringComparison.Ordinal)
            .Replace(" ?", "?", StringComparison.Ordinal)
            .Replace(" !", "!", StringComparison.Ordinal)
            .Replace(" ,", ",", StringComparison.Ordinal)
            .Replace(" ' ", "'", StringComparison.Ordinal)
            .Replace(" n't", "n't", StringComparison.Ordinal)
            .Replace(" 'm", "'m", StringComparison.Ordinal);
        if (doNot)
        {
            text = text.Replace(" do not", " don't", StringComparison.Ordinal);
        }

        return text
            .Replace(" 's", "'s", StringComparison.Ordinal)
            .Replace(" 've", "'ve", StringComparison.Ordinal)
            .Replace(" 're", "'re", StringComparison.Ordinal);
    }
}
