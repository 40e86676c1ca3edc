using System.Text.Json.Nodes;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Tokenization.SentencePiece;

/// <summary>
/// transformers' <c>LlamaConverter</c> (convert_slow_tokenizer.py), the step by which <c>LlamaTokenizerFast</c>
/// loads a folder that has only <c>tokenizer.model</c>: the SentencePiece model becomes a tokenizer.json, which then
/// runs through the same pipeline as a published one. What the converter writes, and what follows from it:
/// <list type="bullet">
/// <item>model: Unigram (<c>model_type</c> 1, <c>unk_id</c> 0) or BPE (<c>model_type</c> 2, <c>fuse_unk</c>, merges
/// generated from the pieces), both with byte fallback to the <c>&lt;0xNN&gt;</c> pieces whatever the proto's
/// <c>byte_fallback</c> says; the first three pieces get score 0;</item>
/// <item>CONTROL pieces become special added tokens, USER_DEFINED pieces plain ones, both matched before
/// normalization;</item>
/// <item><c>legacy</c> (tokenizer_config.json, default true): a Prepend("▁") + Replace(" " → "▁") normalizer, which
/// also puts "▁" after every special token; <c>legacy: false</c>: no normalizer and a Metaspace pre-tokenizer
/// that prepends "▁" to the first piece only (<c>prepend_scheme</c> "first", no split);
/// <c>add_prefix_space: false</c> drops the prepended "▁";</item>
/// <item>decoder: "▁" → " ", byte fallback, fuse, and one leading space stripped when a prefix space is added.</item>
/// </list>
/// The proto's normalizer (<c>precompiled_charsmap</c>, <c>add_dummy_prefix</c>, <c>remove_extra_whitespaces</c>)
/// is not read by the converter, so it changes nothing here either. The bos/eos wrapping comes from the class
/// (add_bos_token / add_eos_token), as for a published tokenizer.json.
/// </summary>
internal static class LlamaSentencePieceConverter
{
    /// <summary>The tokenizer classes whose fast tokenizer is built by LlamaConverter.</summary>
    public static bool Converts(string tokenizerClass) => tokenizerClass is "LlamaTokenizer";

    public static JsonObject ToTokenizerJson(SentencePieceModelFile model, JsonObject? config)
    {
        if (model.ModelType is not (SentencePieceModelFile.Unigram or SentencePieceModelFile.Bpe))
        {
            // transformers raises here too ("you're file was trained with a different algorithm").
            throw new LmException(ErrorCodes.SentencePieceUnsupported,
                $"{model.Path}: the SentencePiece model type is {SentencePieceModelFile.ModelTypeName(model.ModelType)}; Hugging Face's " +
                "LlamaTokenizerFast (and lm-tune) convert UNIGRAM and BPE models only.")
            { File = model.Path };
        }

        bool legacy = PretrainedTokenizerReader.Bool(config, "legacy") ?? true;
        bool addPrefixSpace = PretrainedTokenizerReader.Bool(config, "add_prefix_space") ?? true;

        // LlamaConverter.vocab: the first three entries are what the slow tokenizer calls ids 0, 1 and 2 (an
        // added_tokens_decoder entry wins over the piece), with score 0.
        var vocabulary = new List<(string Piece, double Score)>(model.Pieces.Count);
        for (int id = 0; id < model.Pieces.Count; id++)
        {
            SentencePieceEntry entry = model.Pieces[id];
            vocabulary.Add(id < 3 ? (DecoderContent(config, id) ?? entry.Piece, 0.0) : (entry.Piece, entry.Score));
        }

        JsonObject tokenModel = model.ModelType == SentencePieceModelFile.Unigram
            ? new JsonObject
            {
                ["type"] = "Unigram",
                ["unk_id"] = 0,
                ["vocab"] = new JsonArray(vocabulary.Select(v => (JsonNode)new JsonArray(v.Piece, v.Score)).ToArray()),
                ["byte_fallback"] = true,
            }
            : BpeModel(vocabulary, model.UnkPiece);

        // SpmConverter.tokenizer: control pieces are special, user-defined ones are not; neither is normalized.
        var added = new JsonArray();
        for (int id = 0; id < model.Pieces.Count; id++)
        {
            if (model.Pieces[id].Type is SentencePieceType.Control or SentencePieceType.UserDefined)
            {
                added.Add(new JsonObject
                {
                    ["id"] = id,
                    ["content"] = vocabulary[id].Piece,
                    ["single_word"] = false,
                    ["lstrip"] = false,
                    ["rstrip"] = false,
                    ["normalized"] = false,
                    ["special"] = model.Pieces[id].Type == SentencePieceType.Control,
                });
            }
        }

        JsonNode? normalizer = null;
        JsonNode? preTokenizer = null;
        if (legacy)
        {
            var steps = new JsonArray();
            if (addPrefixSpace)
            {
                steps.Add(new JsonObject { ["type"] = "Prepend", ["prepend"] = "▁" });
            }

            steps.Add(new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = " " }, ["content"] = "▁" });
            normalizer = new JsonObject { ["type"] = "Sequence", ["normalizers"] = steps };
        }
        else
        {
            preTokenizer = new JsonObject
            {
                ["type"] = "Metaspace",
                ["replacement"] = "▁",
                ["prepend_scheme"] = addPrefixSpace ? "first" : "never",
                ["split"] = false,
            };
        }

        var decoders = new JsonArray
        {
            new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = "▁" }, ["content"] = " " },
            new JsonObject { ["type"] = "ByteFallback" },
            new JsonObject { ["type"] = "Fuse" },
        };
        if (addPrefixSpace)
        {
            decoders.Add(new JsonObject { ["type"] = "Strip", ["content"] = " ", ["start"] = 1, ["stop"] = 0 });
        }

        return new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = normalizer,
            ["pre_tokenizer"] = preTokenizer,
            ["post_processor"] = null,
            ["decoder"] = new JsonObject { ["type"] = "Sequence", ["decoders"] = decoders },
            ["model"] = tokenModel,
        };
    }

    /// <summary>
    /// SpmConverter's BPE: the vocabulary is piece → id (a repeated piece keeps its last id) and the merges are
    /// transformers' <c>SentencePieceExtractor.extract(vocab_scores)</c>: for each piece, in vocabulary order, every
    /// split into two pieces that both exist (ordered by their ids), all ranked by the merged piece's score,
    /// highest first, ties kept in that order (Python's sort is stable).
    /// </summary>
    private static JsonObject BpeModel(List<(string Piece, double Score)> vocabulary, string unkPiece)
    {
        var ids = new Dictionary<string, int>(vocabulary.Count, StringComparer.Ordinal);
        var vocab = new JsonObject();
        for (int id = 0; id < vocabulary.Count; id++)
        {
            ids[vocabulary[id].Piece] = id;
            vocab[vocabulary[id].Piece] = id;
        }

        // dict(vocab_scores): a repeated piece keeps its first position and its last score.
        var scores = new Dictionary<string, double>(vocabulary.Count, StringComparer.Ordinal);
        var order = new List<string>(vocabulary.Count);
        foreach ((string piece, double score) in vocabulary)
        {
            if (!scores.ContainsKey(piece))
            {
                order.Add(piece);
            }

            scores[piece] = score;
        }

        var merges = new List<(string Left, string Right, double Score)>();
        var local = new List<(string Left, string Right, double Score)>();
        foreach (string piece in order)
        {
            local.Clear();

            // Python slices strings by code point, so a split never falls inside a surrogate pair.
            for (int i = 1; i < piece.Length; i++)
            {
                if (char.IsLowSurrogate(piece[i]) && char.IsHighSurrogate(piece[i - 1]))
                {
                    continue;
                }

                string left = piece[..i];
                string right = piece[i..];
                if (ids.ContainsKey(left) && ids.ContainsKey(right))
                {
                    local.Add((left, right, scores[piece]));
                }
            }

            merges.AddRange(local.OrderBy(m => ids[m.Left]).ThenBy(m => ids[m.Right]));
        }

        return new JsonObject
        {
            ["type"] = "BPE",
            ["dropout"] = null,
            ["unk_token"] = unkPiece,
            ["continuing_subword_prefix"] = null,
            ["end_of_word_suffix"] = null,
            ["fuse_unk"] = true,
            ["byte_fallback"] = true,
            ["ignore_merges"] = false,
            ["vocab"] = vocab,
            ["merges"] = new JsonArray(merges.OrderByDescending(m => m.Score).Select(m => (JsonNode)new JsonArray(m.Left, m.Right)).ToArray()),
        };
    }

    /// <summary>tokenizer_config.json's added_tokens_decoder content for an id, if it names one.</summary>
    private static string? DecoderContent(JsonObject? config, int id) =>
        config?["added_tokens_decoder"] is JsonObject decoder
        && decoder[id.ToString(System.Globalization.CultureInfo.InvariantCulture)] is JsonObject token
        && token["content"] is JsonValue content && content.TryGetValue(out string? text)
            ? text
            : null;
}
