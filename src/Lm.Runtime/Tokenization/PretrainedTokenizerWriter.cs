using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Tokenization;

/// <summary>
/// Writes a tokenizer as transformers' <c>save_pretrained</c> writes a slow tokenizer: vocabulary files,
/// tokenizer_config.json (class, <c>model_max_length</c>, special tokens, <c>added_tokens_decoder</c>),
/// special_tokens_map.json and added_tokens.json. Each file goes to a temporary name in the folder first and is
/// then renamed over the final name, so a crash never leaves a half-written file under a real name.
/// </summary>
internal static class PretrainedTokenizerWriter
{
    private static readonly JsonSerializerOptions s_indented = new()
    {
        WriteIndented = true,
        IndentSize = 2,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static void Write(LmTokenizer tokenizer, string folder, string? chatTemplate)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentException.ThrowIfNullOrEmpty(folder);
        try
        {
            Directory.CreateDirectory(folder);
            tokenizer.WriteVocabularyFiles(folder);
            if (tokenizer.SentencePieceModel is byte[] sentencePiece) WriteAtomically(Path.Combine(folder, "tokenizer.model"), sentencePiece);
            WriteJson(Path.Combine(folder, "tokenizer_config.json"), TokenizerConfig(tokenizer, chatTemplate));
            WriteJson(Path.Combine(folder, "special_tokens_map.json"), SpecialTokensMap(tokenizer));
            var beyondVocabulary = tokenizer.AddedTokens.Where(t => IsBeyondModelVocabulary(tokenizer, t)).ToList();
            string addedTokensPath = Path.Combine(folder, "added_tokens.json");
            if (beyondVocabulary.Count > 0)
            {
                var added = new JsonObject();
                foreach (AddedToken token in beyondVocabulary)
                {
                    added[token.Content] = token.Id;
                }

                WriteJson(addedTokensPath, added);
            }
            else if (File.Exists(addedTokensPath))
            {
                File.Delete(addedTokensPath);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LmException(ErrorCodes.TokenizerSaveFailed, $"Could not write the tokenizer to '{folder}': {e.Message}", e) { File = folder };
        }
    }

    /// <summary>vocab.json (compact, in id order) and merges.txt with its "#version: 0.2" header.</summary>
    public static void WriteBpeVocabulary(ByteLevelBpeModel model, string folder)
    {
        using (var vocab = new MemoryStream())
        {
            using (var writer = new Utf8JsonWriter(vocab, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            {
                writer.WriteStartObject();
                foreach ((string token, int id) in model.VocabularyInIdOrder())
                {
                    writer.WriteNumber(token, id);
                }

                writer.WriteEndObject();
            }

            WriteAtomically(Path.Combine(folder, "vocab.json"), vocab.ToArray());
        }

        var merges = new StringBuilder("#version: 0.2\n", model.Merges.Count * 12);
        foreach ((string left, string right) in model.Merges)
        {
            merges.Append(left).Append(' ').Append(right).Append('\n');
        }

        WriteAtomically(Path.Combine(folder, "merges.txt"), Encoding.UTF8.GetBytes(merges.ToString()));
    }

    /// <summary>vocab.txt: one token per line, line index = id.</summary>
    public static void WriteWordPieceVocabulary(WordPieceModel model, string folder)
    {
        var text = new StringBuilder();
        int expected = 0;
        foreach ((string token, int id) in model.VocabularyInIdOrder())
        {
            if (id != expected++)
            {
                throw new LmException(ErrorCodes.TokenizerSaveFailed,
                    $"Cannot write vocab.txt to '{folder}': the vocabulary has no token with id {expected - 1}, and vocab.txt numbers tokens by line.");
            }

            text.Append(token).Append('\n');
        }

        WriteAtomically(Path.Combine(folder, "vocab.txt"), Encoding.UTF8.GetBytes(text.ToString()));
    }

    private static JsonObject TokenizerConfig(LmTokenizer tokenizer, string? chatTemplate)
    {
        var entries = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal);
        var decoder = new JsonObject();
        foreach (AddedToken token in tokenizer.AddedTokens.OrderBy(t => t.Id))
        {
            JsonObject entry = AddedTokenObject(token);
            entry["special"] = tokenizer.IsSpecial(token.Id) || token.Special;
            decoder[token.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)] = entry;
        }

        entries["added_tokens_decoder"] = decoder;
        foreach ((string role, AddedToken token) in tokenizer.NamedSpecialTokens)
        {
            entries[role] = token.Content;
        }

        if (tokenizer.AdditionalSpecialTokens.Count > 0)
        {
            entries["additional_special_tokens"] = new JsonArray(tokenizer.AdditionalSpecialTokens.Select(t => (JsonNode)t.Content).ToArray());
        }

        entries["clean_up_tokenization_spaces"] = tokenizer.CleanUpTokenizationSpaces;
        if (tokenizer.ModelMaxLength != int.MaxValue)
        {
            entries["model_max_length"] = tokenizer.ModelMaxLength;
        }

        entries["tokenizer_class"] = tokenizer.TokenizerClass;
        if (chatTemplate is not null)
        {
            // Kept so that a fine-tuned chat model renders conversations as it was trained to.
            entries["chat_template"] = chatTemplate;
        }

        foreach ((string key, JsonNode? value) in tokenizer.ConfigEntries())
        {
            entries[key] = value;
        }

        return new JsonObject(entries);
    }

    private static JsonObject SpecialTokensMap(LmTokenizer tokenizer)
    {
        var map = new JsonObject();
        foreach ((string role, AddedToken token) in tokenizer.NamedSpecialTokens)
        {
            map[role] = HasDefaultFlags(token) ? token.Content : AddedTokenObject(token);
        }

        if (tokenizer.AdditionalSpecialTokens.Count > 0)
        {
            map["additional_special_tokens"] = new JsonArray(tokenizer.AdditionalSpecialTokens
                .Select(t => HasDefaultFlags(t) ? (JsonNode)t.Content : AddedTokenObject(t)).ToArray());
        }

        return map;
    }

    private static JsonObject AddedTokenObject(AddedToken token) => new()
    {
        ["content"] = token.Content,
        ["lstrip"] = token.LStrip,
        ["normalized"] = token.Normalized,
        ["rstrip"] = token.RStrip,
        ["single_word"] = token.SingleWord,
    };

    private static bool HasDefaultFlags(AddedToken token) => !token.LStrip && !token.RStrip && !token.SingleWord && !token.Normalized;

    private static bool IsBeyondModelVocabulary(LmTokenizer tokenizer, AddedToken token) =>
        !tokenizer.IsModelToken(token.Content);

    private static void WriteJson(string path, JsonNode json) =>
        WriteAtomically(path, Encoding.UTF8.GetBytes(json.ToJsonString(s_indented) + "\n"));

    /// <summary>Writes <paramref name="bytes"/> under a temporary name in the same folder, then renames it.</summary>
    internal static void WriteAtomically(string path, byte[] bytes)
    {
        string temporary = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }
        }
    }
}
