using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lm.Runtime.Tokenization.TokenizerJson;

/// <summary>
/// A tokenizer.json run step by step as Hugging Face <c>tokenizers</c> runs it: added tokens split out (by the
/// base class), then per stretch the normalizer, the pre-tokenizer, the model per piece; the post-processor's
/// tokens around the whole; the decoder's chain back to text.
/// </summary>
internal sealed class PipelineTokenizer : LmTokenizer
{
    private static readonly JsonSerializerOptions s_indented = new()
    {
        WriteIndented = true,
        IndentSize = 2,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private readonly TokenizerJsonPipeline _pipeline;

    public PipelineTokenizer(TokenizerJsonPipeline pipeline, TokenizerSettings settings)
        : base(settings, pipeline.Model.Vocabulary.TokenToId, pipeline.Model.Vocabulary.Count, pipeline.Normalizer is null ? null : pipeline.Normalizer.Normalize)
    {
        _pipeline = pipeline;
        DeclaredClass = settings.DeclaredClass;
    }

    public override TokenizerKind Kind => TokenizerKind.TokenizerJson;

    /// <summary>tokenizer_config.json's <c>tokenizer_class</c> as written (e.g. <c>LlamaTokenizerFast</c>), written back on save.</summary>
    private string? DeclaredClass { get; }

    private protected override int? ModelTokenToId(string token) => _pipeline.Model.Vocabulary.TokenToId(token);

    private protected override string? ModelIdToToken(int id) => _pipeline.Model.Vocabulary.IdToToken(id);

    private protected override string? Normalize(ReadOnlySpan<char> text) => _pipeline.Normalizer?.Normalize(text.ToString());

    private protected override void EncodeModel(ReadOnlySpan<char> normalizedText, bool atTextStart, List<int> ids)
    {
        var pieces = new List<PreToken> { new(normalizedText.ToString(), atTextStart) };
        _pipeline.PreTokenizer?.PreTokenize(pieces);
        foreach (PreToken piece in pieces)
        {
            _pipeline.Model.Tokenize(piece.Text, ids);
        }
    }

    /// <summary>
    /// The decoder's chain (tokens joined by spaces when there is none), then transformers'
    /// <c>clean_up_tokenization</c> when asked — except for BPE models, where transformers skips it.
    /// </summary>
    private protected override string DecodeTokens(IReadOnlyList<string> tokens)
    {
        string text = _pipeline.Decoder is null ? string.Join(' ', tokens) : _pipeline.Decoder.Decode(tokens);
        return CleanUpTokenizationSpaces && !_pipeline.Model.IsBpe ? WordPieceTokenizer.CleanUp(text, doNot: false) : text;
    }

    /// <summary>
    /// tokenizer.json as read, with the added tokens and the post-processor this tokenizer uses (which
    /// tokenizer_config.json's <c>add_bos_token</c> may have changed), as <c>save_pretrained</c> writes it.
    /// </summary>
    internal override void WriteVocabularyFiles(string folder)
    {
        var root = _pipeline.ParseJson();
        root["added_tokens"] = new JsonArray(AddedTokens.OrderBy(t => t.Id).Select(t => (JsonNode)new JsonObject
        {
            ["id"] = t.Id,
            ["content"] = t.Content,
            ["single_word"] = t.SingleWord,
            ["lstrip"] = t.LStrip,
            ["rstrip"] = t.RStrip,
            ["normalized"] = t.Normalized,
            ["special"] = t.Special || IsSpecial(t.Id),
        }).ToArray());
        if (_pipeline.PostProcessorOverride is JsonNode postProcessor)
        {
            // The template names its tokens; their ids are the ones this tokenizer resolved.
            JsonNode template = postProcessor.DeepClone();
            foreach ((string _, JsonNode? special) in template["special_tokens"]!.AsObject())
            {
                special!["ids"] = new JsonArray(special["tokens"]!.AsArray()
                    .Select(token => (JsonNode)(TokenToId(token!.GetValue<string>()) ?? throw new InvalidOperationException("A template token has no id.")))
                    .ToArray());
            }

            root["post_processor"] = template;
        }

        PretrainedTokenizerWriter.WriteAtomically(
            Path.Combine(folder, "tokenizer.json"), Encoding.UTF8.GetBytes(root.ToJsonString(s_indented) + "\n"));
    }

    internal override IEnumerable<string> ModelIdentity()
    {
        // Everything but the added tokens (which the base class adds) and the post-processor (its ids are the prefix
        // and suffix, also added there) decides the ids.
        yield return "tokenizer.json pipeline 1";
        JsonObject root = _pipeline.ParseJson();
        foreach (string part in new[] { "normalizer", "pre_tokenizer", "model", "decoder" })
        {
            yield return part + " " + (root[part]?.ToJsonString() ?? "null");
        }
    }

    internal override IEnumerable<KeyValuePair<string, JsonNode?>> ConfigEntries()
    {
        if (DeclaredClass is not null)
        {
            yield return new("tokenizer_class", DeclaredClass);
        }

        if (_pipeline.PostProcessorOverride is not null)
        {
            yield return new("add_bos_token", BosTokenId is int bos && PrefixTokenIds.Contains(bos));
            yield return new("add_eos_token", EosTokenId is int eos && SuffixTokenIds.Contains(eos));
        }
    }
}

/// <summary>The parts of a tokenizer.json the general pipeline runs, and the file itself for saving.</summary>
/// <param name="JsonText">The whole file as read, kept as text: a parsed Llama 3 file would hold on to far more memory.</param>
/// <param name="Normalizer">The normalizer, null for none.</param>
/// <param name="PreTokenizer">The pre-tokenizer, null for none (the whole stretch is one piece).</param>
/// <param name="Model">The model.</param>
/// <param name="Decoder">The decoder, null for none (tokens joined by spaces).</param>
/// <param name="PostProcessorOverride">The post-processor tokenizer_config.json made (LlamaTokenizerFast's
/// <c>update_post_processor</c>), written back instead of the file's; null when the file's is used.</param>
internal sealed record TokenizerJsonPipeline(
    string JsonText,
    TextNormalizer? Normalizer,
    PreTokenizer? PreTokenizer,
    TokenModel Model,
    TokenDecoder? Decoder,
    JsonNode? PostProcessorOverride)
{
    public JsonObject ParseJson() => JsonNode.Parse(JsonText)!.AsObject();
}
