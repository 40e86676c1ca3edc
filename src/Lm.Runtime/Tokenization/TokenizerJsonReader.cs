using System.Text.Json.Nodes;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Tokenization;

/// <summary>
/// Reads Hugging Face's fast-tokenizer file, <c>tokenizer.json</c>, for the two pipelines lm-tune implements:
/// byte-level BPE (ByteLevel pre-tokenizer and decoder, no normalizer) and BERT WordPiece (BertNormalizer,
/// BertPreTokenizer, WordPiece decoder). Anything else is an LM0204 error naming the part that differs.
/// </summary>
internal static class TokenizerJsonReader
{
    /// <summary>What tokenizer.json contributes: the model, its added tokens and the post-processor's wrapping.</summary>
    internal sealed record Contents(
        TokenizerKind Kind,
        Func<string, int?> TokenToId,
        IReadOnlyList<AddedToken> AddedTokens,
        IReadOnlyList<string> Prefix,
        IReadOnlyList<string> Suffix,
        Func<TokenizerSettings, LmTokenizer> CreateTokenizer);

    /// <param name="path">The tokenizer.json file.</param>
    /// <param name="config">tokenizer_config.json, whose <c>add_prefix_space</c> / <c>do_lower_case</c> win over
    /// tokenizer.json as in transformers' fast tokenizers.</param>
    public static Contents Read(string path, JsonObject? config)
    {
        try
        {
            return ReadContents(path, config);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            // JsonNode's typed reads (GetValue<T>, indexers) throw these when a value has another JSON kind.
            throw Malformed(path, $"has a value of the wrong JSON type ({e.Message})");
        }
    }

    private static Contents ReadContents(string path, JsonObject? config)
    {
        JsonObject root = PretrainedTokenizerReader.ReadOptionalObject(path)!;
        if (root["model"] is not JsonObject model)
        {
            throw Malformed(path, "has no \"model\" object");
        }

        string type = model["type"]?.GetValue<string>()
            ?? (model.ContainsKey("merges") ? "BPE" : model.ContainsKey("max_input_chars_per_word") ? "WordPiece" : "unknown");
        IReadOnlyList<AddedToken> addedTokens = ReadAddedTokens(root, path);
        (List<string> prefix, List<string> suffix) = ReadPostProcessor(root["post_processor"], path);
        Dictionary<string, int> vocabulary = model["vocab"] is JsonObject vocab
            ? PretrainedTokenizerReader.ReadVocabulary(vocab, path)
            : throw Malformed(path, "has no \"model.vocab\" object");

        switch (type)
        {
            case "BPE":
            {
                RequireNone(root["normalizer"], path, "normalizer", "byte-level BPE");
                bool addPrefixSpace = PretrainedTokenizerReader.Bool(config, "add_prefix_space") ?? ReadByteLevelPreTokenizer(root["pre_tokenizer"], path);
                RequireType(root["decoder"], path, "decoder", "ByteLevel");
                if (!string.IsNullOrEmpty(model["continuing_subword_prefix"]?.GetValue<string>())
                    || !string.IsNullOrEmpty(model["end_of_word_suffix"]?.GetValue<string>())
                    || PretrainedTokenizerReader.Bool(model, "byte_fallback") == true
                    || (model["dropout"] is JsonValue dropout && dropout.GetValue<double>() != 0))
                {
                    throw Unsupported(path, "model", "a BPE with a subword prefix, word suffix, byte fallback or dropout");
                }

                var bpe = new ByteLevelBpeModel(
                    vocabulary,
                    ReadMerges(model["merges"], path),
                    model["unk_token"]?.GetValue<string>(),
                    addPrefixSpace,
                    PretrainedTokenizerReader.Bool(model, "ignore_merges") ?? false,
                    path);
                return new Contents(TokenizerKind.ByteLevelBpe, bpe.TokenToId, addedTokens, prefix, suffix,
                    settings => new ByteLevelBpeTokenizer(bpe, settings));
            }

            case "WordPiece":
            {
                BertNormalizer? normalizer = ReadBertNormalizer(root["normalizer"], path, config);
                RequireType(root["pre_tokenizer"], path, "pre_tokenizer", "BertPreTokenizer", allowNull: false);
                RequireType(root["decoder"], path, "decoder", "WordPiece");
                var wordPiece = new WordPieceModel(
                    vocabulary,
                    model["unk_token"]?.GetValue<string>() ?? "[UNK]",
                    model["continuing_subword_prefix"]?.GetValue<string>() ?? "##",
                    model["max_input_chars_per_word"]?.GetValue<int>() ?? 100,
                    normalizer,
                    path);
                return new Contents(TokenizerKind.WordPiece, wordPiece.TokenToId, addedTokens, prefix, suffix,
                    settings => new WordPieceTokenizer(wordPiece, settings));
            }

            default:
                throw Unsupported(path, "model", $"a {type} model (lm-tune reads BPE and WordPiece)");
        }
    }

    private static IReadOnlyList<AddedToken> ReadAddedTokens(JsonObject root, string path)
    {
        var tokens = new List<AddedToken>();
        foreach (JsonNode? node in root["added_tokens"] as JsonArray ?? [])
        {
            if (node is not JsonObject token || token["id"]?.GetValue<int>() is not int id || token["content"]?.GetValue<string>() is not string content)
            {
                throw Malformed(path, "has an added token without an id and content");
            }

            tokens.Add(new AddedToken(
                id,
                content,
                Special: PretrainedTokenizerReader.Bool(token, "special") ?? false,
                SingleWord: PretrainedTokenizerReader.Bool(token, "single_word") ?? false,
                LStrip: PretrainedTokenizerReader.Bool(token, "lstrip") ?? false,
                RStrip: PretrainedTokenizerReader.Bool(token, "rstrip") ?? false,
                Normalized: PretrainedTokenizerReader.Bool(token, "normalized") ?? true));
        }

        return tokens;
    }

    /// <summary>Merges as "left right" strings (tokenizers before 0.20) or [left, right] pairs (after).</summary>
    private static List<(string, string)> ReadMerges(JsonNode? node, string path)
    {
        if (node is not JsonArray array)
        {
            throw Malformed(path, "has no \"model.merges\" array");
        }

        var merges = new List<(string, string)>(array.Count);
        foreach (JsonNode? merge in array)
        {
            if (merge is JsonValue value && value.TryGetValue(out string? line) && line.Split(' ') is [var left, var right])
            {
                merges.Add((left, right));
            }
            else if (merge is JsonArray { Count: 2 } pair && pair[0]?.GetValue<string>() is string l && pair[1]?.GetValue<string>() is string r)
            {
                merges.Add((l, r));
            }
            else
            {
                throw Malformed(path, $"has a merge that is not a pair of tokens: {merge?.ToJsonString()}");
            }
        }

        return merges;
    }

    /// <summary>The ByteLevel pre-tokenizer (alone or as the only step of a Sequence); returns add_prefix_space.</summary>
    private static bool ReadByteLevelPreTokenizer(JsonNode? node, string path)
    {
        JsonObject? step = node as JsonObject;
        if (step?["type"]?.GetValue<string>() == "Sequence" && step["pretokenizers"] is JsonArray { Count: 1 } steps)
        {
            step = steps[0] as JsonObject;
        }

        if (step?["type"]?.GetValue<string>() != "ByteLevel" || PretrainedTokenizerReader.Bool(step, "use_regex") == false)
        {
            throw Unsupported(path, "pre_tokenizer", $"{Describe(node)} (lm-tune reads ByteLevel with GPT-2's split pattern)");
        }

        return PretrainedTokenizerReader.Bool(step, "add_prefix_space") ?? false;
    }

    private static BertNormalizer? ReadBertNormalizer(JsonNode? node, string path, JsonObject? config)
    {
        if (node is null)
        {
            return null;
        }

        if (node is not JsonObject normalizer || normalizer["type"]?.GetValue<string>() != "BertNormalizer")
        {
            throw Unsupported(path, "normalizer", $"{Describe(node)} (lm-tune reads BertNormalizer)");
        }

        // BertTokenizerFast rebuilds the normalizer when tokenizer_config.json disagrees with it.
        bool lowercase = PretrainedTokenizerReader.Bool(config, "do_lower_case") ?? PretrainedTokenizerReader.Bool(normalizer, "lowercase") ?? true;
        bool? stripAccents = config?.ContainsKey("strip_accents") == true
            ? PretrainedTokenizerReader.Bool(config, "strip_accents")
            : PretrainedTokenizerReader.Bool(normalizer, "strip_accents");
        return new BertNormalizer(
            CleanText: PretrainedTokenizerReader.Bool(normalizer, "clean_text") ?? true,
            HandleChineseChars: PretrainedTokenizerReader.Bool(config, "tokenize_chinese_chars")
                ?? PretrainedTokenizerReader.Bool(normalizer, "handle_chinese_chars") ?? true,
            StripAccents: stripAccents,
            Lowercase: lowercase);
    }

    /// <summary>The special tokens the post-processor puts around a single text.</summary>
    private static (List<string> Prefix, List<string> Suffix) ReadPostProcessor(JsonNode? node, string path)
    {
        var prefix = new List<string>();
        var suffix = new List<string>();
        Add(node);
        return (prefix, suffix);

        void Add(JsonNode? processor)
        {
            if (processor is null)
            {
                return;
            }

            switch (processor["type"]?.GetValue<string>())
            {
                case "ByteLevel":
                    break;
                case "Sequence":
                    foreach (JsonNode? step in processor["processors"] as JsonArray ?? [])
                    {
                        Add(step);
                    }

                    break;
                case "RobertaProcessing" or "BertProcessing":
                    prefix.Add(processor["cls"]?[0]?.GetValue<string>() ?? throw Malformed(path, "has a post_processor without \"cls\""));
                    suffix.Add(processor["sep"]?[0]?.GetValue<string>() ?? throw Malformed(path, "has a post_processor without \"sep\""));
                    break;
                case "TemplateProcessing":
                    bool afterSequence = false;
                    foreach (JsonNode? piece in processor["single"] as JsonArray ?? [])
                    {
                        if (piece?["Sequence"] is not null)
                        {
                            afterSequence = true;
                        }
                        else if (piece?["SpecialToken"]?["id"]?.GetValue<string>() is string name)
                        {
                            JsonArray tokens = processor["special_tokens"]?[name]?["tokens"] as JsonArray
                                ?? throw Malformed(path, $"has a template token '{name}' missing from \"special_tokens\"");
                            (afterSequence ? suffix : prefix).AddRange(tokens.Select(t => t!.GetValue<string>()));
                        }
                    }

                    break;
                default:
                    throw Unsupported(path, "post_processor", Describe(processor));
            }
        }
    }

    private static void RequireNone(JsonNode? node, string path, string part, string pipeline)
    {
        if (node is not null)
        {
            throw Unsupported(path, part, $"{Describe(node)} in a {pipeline} tokenizer");
        }
    }

    private static void RequireType(JsonNode? node, string path, string part, string type, bool allowNull = true)
    {
        if ((node is null && !allowNull) || (node is not null && node["type"]?.GetValue<string>() != type))
        {
            throw Unsupported(path, part, $"{Describe(node)} (lm-tune reads {type})");
        }
    }

    private static string Describe(JsonNode? node) => node is null ? "none" : node["type"]?.GetValue<string>() ?? node.ToJsonString();

    private static LmException Malformed(string path, string problem) =>
        new(ErrorCodes.TokenizerFileMalformed, $"{path} {problem}.") { File = path };

    private static LmException Unsupported(string path, string part, string found) =>
        new(ErrorCodes.TokenizerUnsupported, $"{path}: the {part} is {found}, which lm-tune does not implement.") { File = path };
}
