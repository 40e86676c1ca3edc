using System.Text.Json;
using System.Text.Json.Nodes;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Files;

/// <summary>
/// Typed reading of one JSON object from a file a user, a hub or an earlier run wrote. A value of the wrong type,
/// out of range, or (for required keys) missing becomes an <see cref="LmException"/> with the file's own code,
/// the file and the key path (<c>tokenizer_config.json: "model_max_length" must be a number</c>), never an
/// <see cref="InvalidOperationException"/> from <c>JsonNode.GetValue</c>. JSON <c>null</c> reads as absent, as
/// Python's <c>None</c> means "not set" in HF's files.
/// </summary>
public sealed class JsonFields
{
    private readonly string _prefix;

    /// <summary>Reads <paramref name="json"/>, an object of <paramref name="file"/>; errors carry <paramref name="code"/>.</summary>
    public JsonFields(JsonObject json, string file, string code)
        : this(json, file, code, prefix: "")
    {
    }

    private JsonFields(JsonObject json, string file, string code, string prefix)
    {
        Json = json;
        File = file;
        Code = code;
        _prefix = prefix;
    }

    /// <summary>The object read.</summary>
    public JsonObject Json { get; }

    /// <summary>The file the object came from (as given), named by every error.</summary>
    public string File { get; }

    /// <summary>The <c>LM####</c> code of errors about this file.</summary>
    public string Code { get; }

    /// <summary>
    /// Reads and parses <paramref name="path"/>, which must hold a JSON object. Unreadable files, JSON syntax errors
    /// (with their line), a key repeated in one object (JsonObject would throw on it later, wherever it is first
    /// read; Python keeps the last one, lm-tune refuses the file) and other top-level values are <paramref name="code"/> errors.
    /// </summary>
    public static JsonFields Read(string path, string code)
    {
        byte[] bytes;
        try
        {
            bytes = System.IO.File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LmException(code, $"{path}: cannot be read: {e.Message}", e) { File = path };
        }
        return Parse(bytes, path, code);
    }

    /// <summary>Parses <paramref name="utf8"/> as the JSON object of <paramref name="path"/>.</summary>
    public static JsonFields Parse(ReadOnlySpan<byte> utf8, string path, string code)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(utf8, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = false, MaxDepth = 256 });
        }
        catch (JsonException e)
        {
            int? line = e.LineNumber is long l ? (int)Math.Min(l + 1, int.MaxValue) : null;
            throw new LmException(code, $"{path}: not valid JSON{(line is int n ? $" (line {n})" : "")}: {e.Message}", e)
            {
                File = path, Line = line,
            };
        }
        if (node is not JsonObject json)
            throw new LmException(code, $"{path}: expected a JSON object") { File = path };
        RequireText(json, path, code);
        return new JsonFields(json, path, code);
    }

    /// <summary>
    /// Throws <paramref name="code"/> naming the key path when a key or string value under <paramref name="node"/>
    /// is no text: JSON may escape half of a UTF-16 surrogate pair alone (<c>"\ud800"</c>), which System.Text.Json
    /// parses but refuses with an <see cref="InvalidOperationException"/> only when the string is read, anywhere later.
    /// </summary>
    public static void RequireText(JsonNode? node, string file, string code) => RequireText(node, file, code, "");

    private static void RequireText(JsonNode? node, string file, string code, string path)
    {
        LmException NotText(string where) =>
            new(code, $"{file}: {(where.Length == 0 ? "a key" : $"\"{where}\"")} is not valid text (an unpaired UTF-16 surrogate escape)") { File = file };
        switch (node)
        {
            case JsonObject json:
                List<KeyValuePair<string, JsonNode?>> entries;
                try
                {
                    entries = json.ToList();
                }
                catch (InvalidOperationException)
                {
                    throw NotText(path.Length == 0 ? "" : path + ".<key>");
                }
                catch (ArgumentException)
                {
                    throw new LmException(code, $"{file}: {(path.Length == 0 ? "the top-level object" : $"\"{path}\"")} repeats a key") { File = file };
                }
                foreach (var (key, value) in entries) RequireText(value, file, code, path.Length == 0 ? key : $"{path}.{key}");
                break;
            case JsonArray array:
                for (int i = 0; i < array.Count; i++) RequireText(array[i], file, code, $"{path}[{i}]");
                break;
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                try
                {
                    _ = value.GetValue<string>();
                }
                catch (InvalidOperationException)
                {
                    throw NotText(path);
                }
                break;
        }
    }

    /// <summary>True when the key is present with a value other than null.</summary>
    public bool Has(string key) => Json[key] is not null;

    /// <summary>The keys of the object, in file order.</summary>
    public IEnumerable<string> Keys => Json.Select(p => p.Key);

    /// <summary>The key path as errors name it: <c>"added_tokens_decoder.5.content"</c>.</summary>
    public string PathOf(string key) => _prefix.Length == 0 ? key : $"{_prefix}.{key}";

    /// <summary>An error about <paramref name="key"/>: <c>file: "key" problem</c>.</summary>
    public LmException Error(string key, string problem) =>
        new(Code, $"{File}: \"{PathOf(key)}\" {problem}") { File = File };

    /// <summary>A string value; null when absent.</summary>
    public string? String(string key) => Json[key] switch
    {
        null => null,
        JsonValue value when value.GetValueKind() == JsonValueKind.String => StringOf(value, key),
        _ => throw Error(key, "must be a string"),
    };

    /// <summary>A string value that must be present.</summary>
    public string RequiredString(string key) => String(key) ?? throw Error(key, "is missing (a string)");

    /// <summary>A true/false value; null when absent.</summary>
    public bool? Bool(string key) => Json[key] switch
    {
        null => null,
        JsonValue value when value.GetValueKind() is JsonValueKind.True or JsonValueKind.False => value.GetValue<bool>(),
        _ => throw Error(key, "must be true or false"),
    };

    /// <summary>A number; null when absent. With <paramref name="finite"/>, NaN and infinities are refused.</summary>
    public double? Double(string key, double min = double.NegativeInfinity, double max = double.PositiveInfinity, bool finite = false)
    {
        if (Json[key] is null) return null;
        double number = NumberOf(Json[key], key);
        if (finite && !double.IsFinite(number)) throw Error(key, $"must be a finite number, not {number}");
        if (number < min || number > max) throw Error(key, $"must be between {min} and {max}, not {number}");
        return number;
    }

    /// <summary>A whole number in [<paramref name="min"/>, <paramref name="max"/>]; null when absent.</summary>
    public long? Long(string key, long min = long.MinValue, long max = long.MaxValue) =>
        Json[key] is null ? null : WholeNumber(Json[key], key, min, max);

    /// <summary>A whole number in [<paramref name="min"/>, <paramref name="max"/>] that fits an int; null when absent.</summary>
    public int? Int(string key, int min = int.MinValue, int max = int.MaxValue) => (int?)Long(key, min, max);

    /// <summary>A whole number that must be present.</summary>
    public long RequiredLong(string key, long min = long.MinValue, long max = long.MaxValue) =>
        Long(key, min, max) ?? throw Error(key, "is missing (a whole number)");

    /// <summary>A nested object, read with the same file and code; null when absent.</summary>
    public JsonFields? Object(string key) => Json[key] switch
    {
        null => null,
        JsonObject inner => new JsonFields(inner, File, Code, PathOf(key)),
        _ => throw Error(key, "must be an object"),
    };

    /// <summary>An array; null when absent.</summary>
    public JsonArray? Array(string key) => Json[key] switch
    {
        null => null,
        JsonArray array => array,
        _ => throw Error(key, "must be a list"),
    };

    /// <summary>A whole number, or a list of them (HF's <c>eos_token_id</c>); null when absent.</summary>
    public IReadOnlyList<long>? LongOrList(string key, long min = long.MinValue, long max = long.MaxValue) => Json[key] switch
    {
        null => null,
        JsonArray list => list.Select((item, i) => WholeNumber(item, $"{key}[{i}]", min, max)).ToArray(),
        JsonNode single => [WholeNumber(single, key, min, max)],
    };

    /// <summary>The items of an array that must all be objects, each read with the same file and code.</summary>
    public IEnumerable<JsonFields> Objects(string key)
    {
        if (Array(key) is not JsonArray array) yield break;
        for (int i = 0; i < array.Count; i++)
        {
            if (array[i] is not JsonObject item) throw Error($"{key}[{i}]", "must be an object");
            yield return new JsonFields(item, File, Code, PathOf($"{key}[{i}]"));
        }
    }

    private double NumberOf(JsonNode? node, string key)
    {
        if (Element(node) is { ValueKind: JsonValueKind.Number } element && element.TryGetDouble(out double number))
            return number;
        throw Error(key, "must be a number");
    }

    private long WholeNumber(JsonNode? node, string key, long min, long max)
    {
        if (Element(node) is not { ValueKind: JsonValueKind.Number } element)
            throw Error(key, "must be a whole number");
        if (!element.TryGetInt64(out long whole))
        {
            // Python writes 5.0 for a float that holds a whole number; anything else (1.5, 1e30) is not one.
            double number = NumberOf(node, key);
            if (number != Math.Floor(number) || number < -9.2233720368547758e18 || number >= 9.2233720368547758e18)
                throw Error(key, $"must be a whole number between {min} and {max}, not {number}");
            whole = (long)number;
        }
        if (whole < min || whole > max) throw Error(key, $"must be between {min} and {max}, not {whole}");
        return whole;
    }

    /// <summary>
    /// The value as a <see cref="JsonElement"/>: parsed files hold elements already; values a caller built in memory
    /// (<c>JsonValue.Create(5)</c>) are serialized once, so both read alike.
    /// </summary>
    private static JsonElement? Element(JsonNode? node) => node switch
    {
        JsonValue value when value.TryGetValue(out JsonElement element) => element,
        JsonValue value => JsonSerializer.SerializeToElement(value),
        _ => null,
    };

    private string StringOf(JsonValue value, string key)
    {
        try
        {
            return value.GetValue<string>();
        }
        catch (InvalidOperationException)
        {
            // An escaped lone surrogate ("\ud800") is valid JSON but no valid string.
            throw Error(key, "is not valid text (an unpaired UTF-16 surrogate escape)");
        }
    }
}
