using System.Text.Json.Nodes;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Tokenization.TokenizerJson;

/// <summary>Typed reads of tokenizer.json fields, each failing with an error that names the file and the component.</summary>
internal static class TokenizerJsonValues
{
    public static string Type(JsonNode node, string path, string part) =>
        node is JsonObject && node["type"] is JsonValue value && value.TryGetValue(out string? type)
            ? type
            : throw Malformed(path, $"has a {part} without a \"type\": {Shorten(node.ToJsonString())}");

    public static bool? Bool(JsonNode node, string key) =>
        node[key] is JsonValue value && value.TryGetValue(out bool flag) ? flag : null;

    public static int? Int(JsonNode node, string key) =>
        node[key] is JsonValue value && value.TryGetValue(out int number) ? number : null;

    public static string? OptionalString(JsonNode node, string key) =>
        node[key] is JsonValue value && value.TryGetValue(out string? text) ? text : null;

    public static string String(JsonNode node, string key, string path, string part) =>
        OptionalString(node, key) ?? throw Malformed(path, $"has a {part} of type {Type(node, path, part)} without a string \"{key}\"");

    public static JsonArray Array(JsonNode node, string key, string path, string part) =>
        node[key] as JsonArray ?? throw Malformed(path, $"has a {part} of type {Type(node, path, part)} without an array \"{key}\"");

    /// <summary>A single character field (Metaspace's <c>replacement</c>, Strip's <c>content</c>).</summary>
    public static string Character(JsonNode node, string key, string path, string part, string fallback)
    {
        string value = OptionalString(node, key) ?? fallback;
        return System.Text.Rune.TryGetRuneAt(value, 0, out System.Text.Rune rune) && rune.Utf16SequenceLength == value.Length
            ? value
            : throw Malformed(path, $"has a {part} whose \"{key}\" is not one character: '{value}'");
    }

    /// <summary>tokenizers' pattern: <c>{"String": "…"}</c> (matched literally) or <c>{"Regex": "…"}</c> (Oniguruma).</summary>
    public static OnigurumaRegex ReadPattern(JsonNode? node, string path, string part)
    {
        if (node is JsonObject pattern)
        {
            if (pattern["String"] is JsonValue literal && literal.TryGetValue(out string? text))
            {
                return OnigurumaRegex.ForLiteral(text);
            }

            if (pattern["Regex"] is JsonValue regex && regex.TryGetValue(out string? expression))
            {
                return new OnigurumaRegex(expression, path);
            }
        }

        throw Malformed(path, $"has a {part} whose \"pattern\" is neither {{\"String\": …}} nor {{\"Regex\": …}}");
    }

    /// <summary>tokenizers' <c>SplitDelimiterBehavior</c>.</summary>
    public static SplitBehavior Behavior(JsonNode node, string path, string part, SplitBehavior fallback)
    {
        string? name = OptionalString(node, "behavior");
        return name switch
        {
            null => fallback,
            "Removed" => SplitBehavior.Removed,
            "Isolated" => SplitBehavior.Isolated,
            "MergedWithPrevious" => SplitBehavior.MergedWithPrevious,
            "MergedWithNext" => SplitBehavior.MergedWithNext,
            "Contiguous" => SplitBehavior.Contiguous,
            _ => throw Malformed(path, $"has a {part} with the unknown behavior '{name}'"),
        };
    }

    public static LmException Malformed(string path, string problem) =>
        new(ErrorCodes.TokenizerFileMalformed, $"{path} {problem}.") { File = path };

    public static LmException Unsupported(string path, string part, string found) =>
        new(ErrorCodes.TokenizerUnsupported, $"{path}: the {part} is {found}, which lm-tune does not implement.") { File = path };

    private static string Shorten(string json) => json.Length > 120 ? json[..120] + "…" : json;
}
