using System.Text.Json;
using System.Text.Json.Nodes;
using Lm.Runtime.Checkpoints;
using Lm.Runtime.Errors;
using Lm.Runtime.Files;
using Lm.Runtime.Tokenization.SentencePiece;

namespace Lm.Runtime.Tokenization;

/// <summary>
/// Reads a Hugging Face tokenizer folder the way <c>AutoTokenizer.from_pretrained</c> does with its default fast
/// tokenizer: <c>tokenizer.json</c> when present, otherwise the slow files converted; the class from
/// tokenizer_config.json (else config.json's <c>model_type</c>, else the files); special tokens from the class's
/// defaults, overridden by tokenizer_config.json, overridden by special_tokens_map.json.
/// </summary>
internal static class PretrainedTokenizerReader
{
    /// <summary>Ids at or above this are refused (LM0221): 16,777,216, 64 times the largest published vocabulary.</summary>
    internal const int MaxTokenId = 1 << 24;

    private static readonly string[] s_tokenizerFiles =
        ["tokenizer.json", "tokenizer.model", "vocab.json", "merges.txt", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json"];

    public static LmTokenizer Read(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        if (!Directory.Exists(folder))
        {
            throw new LmException(ErrorCodes.TokenizerFilesNotFound, $"Tokenizer folder '{folder}' does not exist.");
        }

        string PathOf(string name) => Path.Combine(folder, name);
        JsonObject? config = ReadOptionalObject(PathOf("tokenizer_config.json"));
        JsonObject? specialTokensMap = ReadOptionalObject(PathOf("special_tokens_map.json"));
        JsonObject? addedTokens = ReadOptionalObject(PathOf("added_tokens.json"));
        JsonFields? configFields = Typed(config, PathOf("tokenizer_config.json"));
        string? declaredClass = configFields?.String("tokenizer_class") is string named
            ? PretrainedTokenizerDefaults.SlowClassName(named)
            : PretrainedTokenizerDefaults.ClassForModelType(Typed(ReadOptionalObject(PathOf("config.json")), PathOf("config.json"))?.String("model_type"));

        bool hasSlowVocabulary = File.Exists(PathOf("vocab.json")) || File.Exists(PathOf("merges.txt")) || File.Exists(PathOf("vocab.txt"));
        bool fromSentencePiece = !File.Exists(PathOf("tokenizer.json")) && File.Exists(PathOf("tokenizer.model"))
            && (!hasSlowVocabulary || (declaredClass is not null && LlamaSentencePieceConverter.Converts(declaredClass)));
        if (File.Exists(PathOf("tokenizer.json")) || fromSentencePiece)
        {
            // Without tokenizer.json, LlamaTokenizerFast converts tokenizer.model (transformers' LlamaConverter) and
            // runs the result as it would a published tokenizer.json.
            TokenizerJsonReader.Contents file = fromSentencePiece
                ? TokenizerJsonReader.Read(FromSentencePiece(PathOf("tokenizer.model"), declaredClass, config), PathOf("tokenizer.model"), config)
                : TokenizerJsonReader.Read(PathOf("tokenizer.json"), config);
            string tokenizerClass = declaredClass ?? (fromSentencePiece ? "LlamaTokenizer" : GuessClass(file.Kind, file.TokenToId));
            TokenizerSettings settings = Settings(tokenizerClass, configFields, Typed(specialTokensMap, PathOf("special_tokens_map.json")),
                Typed(addedTokens, PathOf("added_tokens.json")), file.AddedTokens);
            settings.Prefix.Clear();
            settings.Prefix.AddRange(file.Prefix);
            settings.Suffix.Clear();
            settings.Suffix.AddRange(file.Suffix);
            LmTokenizer tokenizer = file.CreateTokenizer(settings);
            // LlamaTokenizerFast keeps tokenizer.model as its vocab_file when the folder has one (can_save_slow_tokenizer),
            // and save_pretrained copies it next to tokenizer.json; held as bytes, so saving does not depend on the
            // source folder staying as it was.
            if (File.Exists(PathOf("tokenizer.model")) && LlamaSentencePieceConverter.Converts(tokenizerClass))
                tokenizer.SentencePieceModel = ReadSentencePieceModel(PathOf("tokenizer.model"));
            return tokenizer;
        }

        bool hasVocabJson = File.Exists(PathOf("vocab.json"));
        bool hasMerges = File.Exists(PathOf("merges.txt"));
        if (hasVocabJson || hasMerges)
        {
            if (!hasVocabJson || !hasMerges)
            {
                throw new LmException(ErrorCodes.TokenizerFileMissing,
                    $"Tokenizer folder '{folder}' has {(hasVocabJson ? "vocab.json but no merges.txt" : "merges.txt but no vocab.json")}: " +
                    $"a byte-level BPE tokenizer needs both (or a tokenizer.json). Found: {Found(folder)}.")
                { File = PathOf(hasVocabJson ? "merges.txt" : "vocab.json") };
            }

            var vocabulary = ReadVocabJson(PathOf("vocab.json"));
            var merges = ReadMerges(PathOf("merges.txt"));
            var model = new ByteLevelBpeModel(vocabulary, merges, unknownToken: null,
                addPrefixSpace: configFields?.Bool("add_prefix_space") ?? false, ignoreMerges: false, PathOf("vocab.json"));
            string tokenizerClass = declaredClass ?? GuessClass(TokenizerKind.ByteLevelBpe, model.TokenToId);
            TokenizerSettings settings = Settings(tokenizerClass, configFields, Typed(specialTokensMap, PathOf("special_tokens_map.json")),
                Typed(addedTokens, PathOf("added_tokens.json")), []);
            PretrainedTokenizerDefaults.WrapAsClassDoes(settings, addBosToken: configFields?.Bool("add_bos_token") ?? false);
            return new ByteLevelBpeTokenizer(model, settings);
        }

        if (File.Exists(PathOf("vocab.txt")))
        {
            string tokenizerClass = declaredClass ?? "BertTokenizer";
            TokenizerSettings settings = Settings(tokenizerClass, configFields, Typed(specialTokensMap, PathOf("special_tokens_map.json")),
                Typed(addedTokens, PathOf("added_tokens.json")), []);
            bool lowercase = configFields?.Bool("do_lower_case") ?? true;
            var normalizer = new BertNormalizer(
                CleanText: true,
                HandleChineseChars: configFields?.Bool("tokenize_chinese_chars") ?? true,
                StripAccents: configFields?.Bool("strip_accents"),
                Lowercase: lowercase);
            string unknown = settings.SpecialTokens.GetValueOrDefault("unk_token")?.Content ?? "[UNK]";
            var model = new WordPieceModel(ReadVocabTxt(PathOf("vocab.txt")), unknown, "##", 100, normalizer, PathOf("vocab.txt"));
            PretrainedTokenizerDefaults.WrapAsClassDoes(settings, addBosToken: false);
            return new WordPieceTokenizer(model, settings);
        }

        throw new LmException(ErrorCodes.TokenizerFilesNotFound,
            $"No tokenizer in '{folder}': expected tokenizer.json, tokenizer.model (SentencePiece), vocab.json + merges.txt (GPT-2, RoBERTa) or vocab.txt (BERT). " +
            $"Found: {Found(folder)}.");
    }

    private static byte[] ReadSentencePieceModel(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LmException(ErrorCodes.SentencePieceModelMalformed, $"Could not read '{path}': {e.Message}", e) { File = path };
        }
    }

    /// <summary>
    /// tokenizer.model converted as the fast class does. Only LlamaTokenizer's converter is implemented; a folder
    /// that names no class is taken for Llama's, the only SentencePiece family lm-tune trains.
    /// </summary>
    private static JsonObject FromSentencePiece(string path, string? declaredClass, JsonObject? config)
    {
        string tokenizerClass = declaredClass ?? "LlamaTokenizer";
        if (!LlamaSentencePieceConverter.Converts(tokenizerClass))
        {
            throw new LmException(ErrorCodes.SentencePieceUnsupported,
                $"{path}: the tokenizer class is {tokenizerClass}, whose conversion of a SentencePiece model lm-tune does not implement " +
                "(it converts LlamaTokenizer's: Llama 2, TinyLlama, Mistral). Save the tokenizer with Hugging Face as tokenizer.json " +
                "(tokenizer.save_pretrained) and use that folder.")
            { File = path };
        }

        return LlamaSentencePieceConverter.ToTokenizerJson(SentencePieceModelFile.Read(path), config);
    }

    /// <summary>The class's defaults, then tokenizer_config.json, then special_tokens_map.json, then added tokens.</summary>
    private static TokenizerSettings Settings(
        string tokenizerClass, JsonFields? config, JsonFields? specialTokensMap, JsonFields? addedTokensJson, IReadOnlyList<AddedToken> fileAddedTokens)
    {
        // HF's VERY_LARGE_INTEGER (1e30) and any other length beyond an int mean "no limit".
        int modelMaxLength = config?.Double("model_max_length", min: 0) is double length
            ? (int)Math.Min(length, int.MaxValue)
            : int.MaxValue;
        TokenizerSettings settings = PretrainedTokenizerDefaults.Create(tokenizerClass, modelMaxLength);
        if (config?.Bool("clean_up_tokenization_spaces") is bool cleanUp)
        {
            settings.CleanUpTokenizationSpaces = cleanUp;
        }

        settings.DeclaredAddedTokens.AddRange(fileAddedTokens);
        if (addedTokensJson is not null)
        {
            foreach (string content in addedTokensJson.Keys.ToList())
            {
                int tokenId = TokenId(addedTokensJson, content);
                if (settings.DeclaredAddedTokens.All(t => t.Content != content))
                {
                    settings.DeclaredAddedTokens.Add(new AddedToken(tokenId, content, Special: false, Normalized: true));
                }
            }
        }

        if (config?.Object("added_tokens_decoder") is JsonFields decoder)
        {
            foreach (string id in decoder.Keys.ToList())
            {
                if (!int.TryParse(id, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int tokenId))
                {
                    throw new LmException(ErrorCodes.TokenIdOutOfRange,
                        $"{decoder.File}: \"{decoder.PathOf(id)}\" is not a token id (a whole number from 0 to {int.MaxValue}).")
                    { File = decoder.File };
                }

                JsonFields token = decoder.Object(id) ?? throw decoder.Error(id, "must be an object");
                AddedTokenSpec spec = ParseSpec(token);
                settings.DeclaredAddedTokens.RemoveAll(t => t.Id == tokenId || t.Content == spec.Content);
                settings.DeclaredAddedTokens.Add(spec.ToToken(tokenId) with { Special = token.Bool("special") ?? false });
            }
        }

        foreach (JsonFields? source in new[] { config, specialTokensMap })
        {
            if (source is null)
            {
                continue;
            }

            foreach (string role in TokenizerSettings.Roles)
            {
                if (source.Json.TryGetPropertyValue(role, out JsonNode? value))
                {
                    settings.SpecialTokens[role] = value is null ? null : ParseSpec(source, role);
                }
            }

            foreach (string list in new[] { "additional_special_tokens", "extra_special_tokens" })
            {
                // transformers 4.50+ may write extra_special_tokens as an object of named tokens, which sets no list.
                if (source.Json[list] is JsonArray additional)
                {
                    settings.AdditionalSpecialTokens.Clear();
                    settings.AdditionalSpecialTokens.AddRange(additional.Select((_, i) => ParseItemSpec(source, list, additional, i)));
                }
            }
        }

        PretrainedTokenizerDefaults.ApplyClassTokenFlags(settings);
        settings.ChatTemplate = ChatTemplate(config);

        return settings;
    }

    /// <summary>
    /// tokenizer_config.json's <c>chat_template</c>: a string, or a list of <c>{"name", "template"}</c> of which
    /// transformers uses the one named "default". A chat_template.jinja beside it wins, as in transformers.
    /// </summary>
    private static string? ChatTemplate(JsonFields? config)
    {
        if (config is not null && Path.GetDirectoryName(config.File) is { } folder && File.Exists(Path.Combine(folder, "chat_template.jinja")))
        {
            try
            {
                return File.ReadAllText(Path.Combine(folder, "chat_template.jinja"), new System.Text.UTF8Encoding(false, true));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.DecoderFallbackException)
            {
                throw new LmException(ErrorCodes.TokenizerFileMalformed, $"{Path.Combine(folder, "chat_template.jinja")}: cannot be read as UTF-8 text ({e.Message})")
                { File = Path.Combine(folder, "chat_template.jinja") };
            }
        }
        if (config is null || !config.Has("chat_template")) return null;
        if (config.Json["chat_template"] is JsonArray)
        {
            foreach (JsonFields named in config.Objects("chat_template"))
                if (named.String("name") == "default") return named.RequiredString("template");
            return null;
        }
        return config.String("chat_template");
    }

    /// <summary>An id of added_tokens.json: a whole number from 0.</summary>
    private static int TokenId(JsonFields json, string key)
    {
        try
        {
            return json.Int(key, min: 0) ?? throw json.Error(key, "must be a token id");
        }
        catch (LmException e) when (e.Code == json.Code)
        {
            throw new LmException(ErrorCodes.TokenIdOutOfRange, e.Message.TrimEnd('.') + " (a token id is a whole number from 0).") { File = json.File };
        }
    }

    /// <summary>A special token as a string, or as an AddedToken object (<c>{"content": …, "lstrip": …}</c>).</summary>
    private static AddedTokenSpec ParseSpec(JsonFields parent, string key) => parent.Json[key] switch
    {
        JsonObject => ParseSpec(parent.Object(key)!),
        _ => new AddedTokenSpec(parent.String(key) ?? throw parent.Error(key, "must be a string or a token object")),
    };

    private static AddedTokenSpec ParseItemSpec(JsonFields parent, string list, JsonArray items, int index)
    {
        var wrapper = new JsonFields(new JsonObject { [$"{list}[{index}]"] = items[index]?.DeepClone() }, parent.File, parent.Code);
        return ParseSpec(wrapper, $"{list}[{index}]");
    }

    private static AddedTokenSpec ParseSpec(JsonFields token) => new(
        token.RequiredString("content"),
        HasFlags: true,
        SingleWord: token.Bool("single_word") ?? false,
        LStrip: token.Bool("lstrip") ?? false,
        RStrip: token.Bool("rstrip") ?? false,
        Normalized: token.Bool("normalized") ?? false);

    private static JsonFields? Typed(JsonObject? json, string path) =>
        json is null ? null : new JsonFields(json, path, ErrorCodes.TokenizerValueInvalid);

    /// <summary>Without a class name: BERT for WordPiece, RoBERTa for a BPE vocabulary with &lt;s&gt; and &lt;mask&gt;, else GPT-2.</summary>
    private static string GuessClass(TokenizerKind kind, Func<string, int?> tokenToId) => kind switch
    {
        TokenizerKind.WordPiece => "BertTokenizer",

        // A general tokenizer.json brings its own special tokens; no class's defaults apply.
        TokenizerKind.TokenizerJson => "PreTrainedTokenizer",
        _ when tokenToId("<s>") is not null && tokenToId("<mask>") is not null => "RobertaTokenizer",
        _ => "GPT2Tokenizer",
    };

    internal static bool? Bool(JsonObject? json, string key) =>
        json?[key] is JsonValue value && value.TryGetValue(out bool flag) ? flag : null;

    private static string Found(string folder)
    {
        string[] names = Directory.EnumerateFileSystemEntries(folder).Select(Path.GetFileName).OfType<string>()
            .OrderBy(name => Array.IndexOf(s_tokenizerFiles, name) is int i && i >= 0 ? i : int.MaxValue)
            .ThenBy(name => name, StringComparer.Ordinal)
            .Take(20)
            .ToArray();
        return names.Length == 0 ? "nothing (the folder is empty)" : string.Join(", ", names);
    }

    /// <summary>Parses a JSON file that must hold an object (LM0203 otherwise); null when the file does not exist.</summary>
    internal static JsonObject? ReadOptionalObject(string path) =>
        File.Exists(path) ? JsonFields.Read(path, ErrorCodes.TokenizerFileMalformed).Json : null;

    /// <summary>vocab.json: an object of token → id.</summary>
    private static Dictionary<string, int> ReadVocabJson(string path)
    {
        JsonObject json = ReadOptionalObject(path)!;
        return ReadVocabulary(json, path);
    }

    internal static Dictionary<string, int> ReadVocabulary(JsonObject json, string path)
    {
        var vocabulary = new Dictionary<string, int>(json.Count, StringComparer.Ordinal);
        foreach ((string token, JsonNode? id) in json)
        {
            if (id is not JsonValue value || !value.TryGetValue(out int tokenId) || tokenId < 0)
            {
                throw new LmException(ErrorCodes.TokenizerFileMalformed, $"{path}: token '{token}' has no valid id.") { File = path };
            }

            // Ids index the embedding and lm-tune's id → token table, so they bound what a load allocates. Real files
            // are dense (ids 0 to count - 1); gaps are accepted as the tokenizers library accepts them, up to a limit
            // far above any published vocabulary.
            if (tokenId >= MaxTokenId)
            {
                throw new LmException(ErrorCodes.TokenIdOutOfRange,
                    $"{path}: token '{token}' has id {tokenId}; lm-tune reads ids below {MaxTokenId:N0}.") { File = path };
            }

            vocabulary[token] = tokenId;
        }

        return vocabulary;
    }

    /// <summary>merges.txt: "#version" header lines skipped, then one "left right" pair per line.</summary>
    private static List<(string, string)> ReadMerges(string path)
    {
        var merges = new List<(string, string)>(50_000);
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            if (line.Length == 0 || (lineNumber == 1 && line.StartsWith("#version", StringComparison.Ordinal)))
            {
                continue;
            }

            string[] parts = line.Split(' ');
            if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
            {
                throw new LmException(ErrorCodes.TokenizerFileMalformed,
                    $"{path}, line {lineNumber}: expected two tokens separated by one space, found '{line}'.")
                { File = path, Line = lineNumber };
            }

            merges.Add((parts[0], parts[1]));
        }

        return merges;
    }

    /// <summary>vocab.txt: one token per line; the line index is the id.</summary>
    private static Dictionary<string, int> ReadVocabTxt(string path)
    {
        var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
        int id = 0;
        foreach (string line in File.ReadLines(path))
        {
            // As transformers' load_vocab: the token is the line without its line break; a repeated token keeps
            // its last line.
            vocabulary[line.TrimEnd('\n', '\r')] = id++;
        }

        return vocabulary;
    }
}
