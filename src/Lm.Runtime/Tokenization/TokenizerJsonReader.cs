using System.Text.Json.Nodes;
using Lm.Runtime.Errors;
using Lm.Runtime.Tokenization.TokenizerJson;

namespace Lm.Runtime.Tokenization;

/// <summary>
/// Reads Hugging Face's fast-tokenizer file, <c>tokenizer.json</c>, as the <c>tokenizers</c> library defines it.
/// Files shaped like GPT-2's (ByteLevel pre-tokenizer and decoder, plain BPE, no normalizer) and BERT's
/// (BertNormalizer, BertPreTokenizer, WordPiece) take the fast paths <see cref="ByteLevelBpeModel"/> and
/// <see cref="WordPieceModel"/>; every other file runs through <see cref="PipelineTokenizer"/>, step by step. A
/// component lm-tune does not implement is an LM0204 error naming it, never different ids.
/// </summary>
internal static class TokenizerJsonReader
{
    /// <summary>Tokenizer classes whose fast tokenizer rebuilds the post-processor from add_bos_token / add_eos_token.</summary>
    private static readonly HashSet<string> s_bosEosTemplateClasses = new(StringComparer.Ordinal)
    {
        "LlamaTokenizer", "CodeLlamaTokenizer", "GemmaTokenizer",
    };

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
    /// tokenizer.json as in transformers' fast tokenizers, and whose <c>add_bos_token</c> / <c>add_eos_token</c>
    /// rebuild the post-processor for the Llama family.</param>
    public static Contents Read(string path, JsonObject? config) =>
        Read(PretrainedTokenizerReader.ReadOptionalObject(path)!, path, config);

    /// <summary>A tokenizer.json already parsed (or converted from another format, which <paramref name="path"/> names).</summary>
    public static Contents Read(JsonObject root, string path, JsonObject? config)
    {
        try
        {
            return ReadContents(root, path, config);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            // JsonNode's typed reads (GetValue<T>, indexers) throw these when a value has another JSON kind.
            throw Malformed(path, $"has a value of the wrong JSON type ({e.Message})");
        }
    }

    private static Contents ReadContents(JsonObject root, string path, JsonObject? config)
    {
        if (root["model"] is not JsonObject model)
        {
            throw Malformed(path, "has no \"model\" object");
        }

        string type = model["type"]?.GetValue<string>()
            ?? (model.ContainsKey("merges") ? "BPE" : model.ContainsKey("max_input_chars_per_word") ? "WordPiece" : "unknown");
        IReadOnlyList<AddedToken> addedTokens = ReadAddedTokens(root, path);
        PostProcessorTokens post = PostProcessorTokens.Read(root["post_processor"], path);
        List<string> prefix = post.Prefix.Select(t => t.Content).ToList();
        List<string> suffix = post.Suffix.Select(t => t.Content).ToList();
        void UseFileIds(TokenizerSettings settings)
        {
            settings.PrefixIds = post.Prefix.Select(t => t.Id).ToArray();
            settings.SuffixIds = post.Suffix.Select(t => t.Id).ToArray();
        }

        if (type == "BPE" && IsGpt2Shaped(root, model))
        {
            Dictionary<string, int> vocabulary = ReadVocabulary(model, path);
            bool addPrefixSpace = PretrainedTokenizerReader.Bool(config, "add_prefix_space") ?? ByteLevelStep(root["pre_tokenizer"])!.AddPrefixSpace;
            var bpe = new ByteLevelBpeModel(
                vocabulary,
                BpeModel.ReadMerges(model["merges"], path),
                model["unk_token"]?.GetValue<string>(),
                addPrefixSpace,
                PretrainedTokenizerReader.Bool(model, "ignore_merges") ?? false,
                path);
            return new Contents(TokenizerKind.ByteLevelBpe, bpe.TokenToId, addedTokens, prefix, suffix, settings =>
            {
                UseFileIds(settings);
                return new ByteLevelBpeTokenizer(bpe, settings);
            });
        }

        if (type == "WordPiece" && IsBertShaped(root, model))
        {
            Dictionary<string, int> vocabulary = ReadVocabulary(model, path);
            BertNormalizer? normalizer = ReadBertNormalizer(root["normalizer"], config);
            var wordPiece = new WordPieceModel(
                vocabulary,
                model["unk_token"]?.GetValue<string>() ?? "[UNK]",
                model["continuing_subword_prefix"]?.GetValue<string>() ?? "##",
                model["max_input_chars_per_word"]?.GetValue<int>() ?? 100,
                normalizer,
                path);
            return new Contents(TokenizerKind.WordPiece, wordPiece.TokenToId, addedTokens, prefix, suffix, settings =>
            {
                UseFileIds(settings);
                return new WordPieceTokenizer(wordPiece, settings);
            });
        }

        TokenModel tokenModel = TokenModel.Read(model, path);
        TextNormalizer? textNormalizer = TextNormalizer.Read(root["normalizer"], path);
        PreTokenizer? preTokenizer = PreTokenizer.Read(root["pre_tokenizer"], path);
        TokenDecoder? decoder = TokenDecoder.Read(root["decoder"], path);
        string? declaredClass = config?["tokenizer_class"] is JsonValue named && named.TryGetValue(out string? className) ? className : null;
        string jsonText = root.ToJsonString();
        return new Contents(TokenizerKind.TokenizerJson, tokenModel.Vocabulary.TokenToId, addedTokens, prefix, suffix, settings =>
        {
            settings.DeclaredClass = declaredClass;
            JsonNode? postProcessorOverride = null;
            if (s_bosEosTemplateClasses.Contains(settings.TokenizerClass))
            {
                postProcessorOverride = BosEosTemplate(settings, config, path);
            }
            else
            {
                UseFileIds(settings);
            }

            var pipeline = new TokenizerJsonPipeline(jsonText, textNormalizer, preTokenizer, tokenModel, decoder, postProcessorOverride);
            return new PipelineTokenizer(pipeline, settings);
        });
    }

    /// <summary>
    /// LlamaTokenizerFast's <c>update_post_processor</c>: the text is wrapped in the bos token when
    /// <c>add_bos_token</c> (default true) and the eos token when <c>add_eos_token</c> (default false), whatever
    /// tokenizer.json's post-processor says. Returns the TemplateProcessing it installs, for saving.
    /// </summary>
    private static JsonObject BosEosTemplate(TokenizerSettings settings, JsonObject? config, string path)
    {
        bool addBos = PretrainedTokenizerReader.Bool(config, "add_bos_token") ?? true;
        bool addEos = PretrainedTokenizerReader.Bool(config, "add_eos_token") ?? false;
        string? Token(string role, bool wanted)
        {
            AddedTokenSpec? spec = settings.SpecialTokens.GetValueOrDefault(role);
            if (wanted && spec is null)
            {
                throw new LmException(ErrorCodes.TokenizerTemplateTokenMissing,
                    $"{path}: tokenizer_config.json sets add_{role} to true (the {settings.TokenizerClass} default for bos), but the tokenizer has no {role}.")
                { File = path };
            }

            return wanted ? spec!.Content : null;
        }

        string? bos = Token("bos_token", addBos);
        string? eos = Token("eos_token", addEos);
        settings.Prefix.Clear();
        settings.Suffix.Clear();
        settings.PrefixIds = settings.SuffixIds = null;
        if (bos is not null)
        {
            settings.Prefix.Add(bos);
        }

        if (eos is not null)
        {
            settings.Suffix.Add(eos);
        }

        JsonObject Piece(string kind, string id, int typeId) => new() { [kind] = new JsonObject { ["id"] = id, ["type_id"] = typeId } };
        var single = new JsonArray();
        var pair = new JsonArray();
        foreach ((JsonArray template, int typeId, string sequence) in new[] { (single, 0, "A"), (pair, 0, "A"), (pair, 1, "B") })
        {
            if (bos is not null)
            {
                template.Add(Piece("SpecialToken", bos, typeId));
            }

            template.Add(Piece("Sequence", sequence, typeId));
            if (eos is not null)
            {
                template.Add(Piece("SpecialToken", eos, typeId));
            }
        }

        // PipelineTokenizer fills in the ids when it saves, once the special tokens have theirs.
        var specialTokens = new JsonObject();
        foreach (string token in new[] { bos, eos }.OfType<string>().Distinct())
        {
            specialTokens[token] = new JsonObject { ["id"] = token, ["ids"] = new JsonArray(), ["tokens"] = new JsonArray(token) };
        }

        return new JsonObject { ["type"] = "TemplateProcessing", ["single"] = single, ["pair"] = pair, ["special_tokens"] = specialTokens };
    }

    /// <summary>GPT-2's shape: plain byte-level BPE, every byte in the vocabulary, no normalizer, ByteLevel steps.</summary>
    private static bool IsGpt2Shaped(JsonObject root, JsonObject model)
    {
        if (root["normalizer"] is not null || ByteLevelStep(root["pre_tokenizer"]) is not { UseRegex: true }
            || root["decoder"]?["type"]?.GetValue<string>() != "ByteLevel"
            || !string.IsNullOrEmpty(model["continuing_subword_prefix"]?.GetValue<string>())
            || !string.IsNullOrEmpty(model["end_of_word_suffix"]?.GetValue<string>())
            || PretrainedTokenizerReader.Bool(model, "byte_fallback") == true
            || (model["dropout"] is JsonValue dropout && dropout.TryGetValue(out double p) && p != 0)
            || model["vocab"] is not JsonObject vocab)
        {
            return false;
        }

        for (int b = 0; b < 256; b++)
        {
            if (!vocab.ContainsKey(ByteLevelAlphabet.ToChar((byte)b).ToString()))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>BERT's shape: BertNormalizer (or none), BertPreTokenizer, a WordPiece decoder with the model's prefix.</summary>
    private static bool IsBertShaped(JsonObject root, JsonObject model) =>
        (root["normalizer"] is null || root["normalizer"]?["type"]?.GetValue<string>() == "BertNormalizer")
        && root["pre_tokenizer"]?["type"]?.GetValue<string>() == "BertPreTokenizer"
        && root["decoder"]?["type"]?.GetValue<string>() == "WordPiece"
        && (root["decoder"]!["prefix"]?.GetValue<string>() ?? "##") == (model["continuing_subword_prefix"]?.GetValue<string>() ?? "##")
        && PretrainedTokenizerReader.Bool(root["decoder"] as JsonObject, "cleanup") != false;

    /// <summary>The ByteLevel pre-tokenizer, alone or as the only step of a Sequence; null for anything else.</summary>
    private static ByteLevelPreTokenizer? ByteLevelStep(JsonNode? node)
    {
        JsonNode? step = node;
        if (step?["type"]?.GetValue<string>() == "Sequence" && step["pretokenizers"] is JsonArray { Count: 1 } steps)
        {
            step = steps[0];
        }

        return step?["type"]?.GetValue<string>() == "ByteLevel" ? PreTokenizer.Read(step, string.Empty) as ByteLevelPreTokenizer : null;
    }

    private static Dictionary<string, int> ReadVocabulary(JsonObject model, string path) =>
        model["vocab"] is JsonObject vocab
            ? PretrainedTokenizerReader.ReadVocabulary(vocab, path)
            : throw Malformed(path, "has no \"model.vocab\" object");

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

    private static BertNormalizer? ReadBertNormalizer(JsonNode? node, JsonObject? config)
    {
        if (node is not JsonObject normalizer)
        {
            return null;
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

    private static LmException Malformed(string path, string problem) =>
        new(ErrorCodes.TokenizerFileMalformed, $"{path} {problem}.") { File = path };
}
