using System.Text.Json.Nodes;

namespace Lm.Runtime.Tokenization.TokenizerJson;

/// <summary>
/// What a tokenizer.json <c>post_processor</c> puts around a single text when special tokens are added
/// (tokenizers' <c>processors/*.rs</c>), as (content, id) pairs with the ids the file gives. ByteLevel only
/// adjusts offsets and adds nothing; a Sequence applies its processors in order, each wrapping the result of the
/// one before.
/// </summary>
internal sealed record PostProcessorTokens(IReadOnlyList<(string Content, int Id)> Prefix, IReadOnlyList<(string Content, int Id)> Suffix)
{
    private const string Part = "post_processor";

    public static PostProcessorTokens Read(JsonNode? node, string path)
    {
        if (node is null)
        {
            return new([], []);
        }

        string type = TokenizerJsonValues.Type(node, path, Part);
        switch (type)
        {
            case "ByteLevel":
                return new([], []);
            case "RobertaProcessing" or "BertProcessing":
                return new([Pair(node, "cls", path)], [Pair(node, "sep", path)]);
            case "TemplateProcessing":
                return ReadTemplate(node, path);
            case "Sequence":
            {
                var prefix = new List<(string, int)>();
                var suffix = new List<(string, int)>();
                foreach (JsonNode? step in TokenizerJsonValues.Array(node, "processors", path, Part))
                {
                    PostProcessorTokens inner = Read(step, path);
                    prefix.InsertRange(0, inner.Prefix);
                    suffix.AddRange(inner.Suffix);
                }

                return new(prefix, suffix);
            }

            default:
                throw TokenizerJsonValues.Unsupported(path, Part, type);
        }
    }

    /// <summary>RobertaProcessing / BertProcessing's <c>"cls": ["&lt;s&gt;", 0]</c>.</summary>
    private static (string, int) Pair(JsonNode node, string key, string path) =>
        node[key] is JsonArray { Count: 2 } pair && pair[0] is JsonValue content && content.TryGetValue(out string? token)
            && pair[1] is JsonValue id && id.TryGetValue(out int tokenId)
            ? (token, tokenId)
            : throw TokenizerJsonValues.Malformed(path, $"has a post_processor without a [token, id] \"{key}\"");

    /// <summary>The <c>single</c> template: special tokens before <c>$A</c> go first, those after it last.</summary>
    private static PostProcessorTokens ReadTemplate(JsonNode node, string path)
    {
        var prefix = new List<(string, int)>();
        var suffix = new List<(string, int)>();
        bool afterSequence = false;
        foreach (JsonNode? piece in TokenizerJsonValues.Array(node, "single", path, Part))
        {
            if (piece?["Sequence"] is not null)
            {
                afterSequence = true;
                continue;
            }

            if (piece?["SpecialToken"]?["id"] is not JsonValue name || !name.TryGetValue(out string? key))
            {
                throw TokenizerJsonValues.Malformed(path, $"has a template piece that is neither a Sequence nor a SpecialToken: {piece?.ToJsonString()}");
            }

            JsonNode special = node["special_tokens"]?[key]
                ?? throw TokenizerJsonValues.Malformed(path, $"has a template token '{key}' missing from \"special_tokens\"");
            JsonArray ids = TokenizerJsonValues.Array(special, "ids", path, "template special token");
            JsonArray tokens = TokenizerJsonValues.Array(special, "tokens", path, "template special token");
            if (ids.Count != tokens.Count)
            {
                throw TokenizerJsonValues.Malformed(path, $"has a template token '{key}' with {ids.Count} ids but {tokens.Count} tokens");
            }

            for (int i = 0; i < ids.Count; i++)
            {
                (afterSequence ? suffix : prefix).Add((tokens[i]!.GetValue<string>(), ids[i]!.GetValue<int>()));
            }
        }

        return new(prefix, suffix);
    }
}
