using System.Text.Json;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Data;

/// <summary>
/// A JSON Lines file (one object per line, blank lines ignored) or a JSON file holding one array of objects, as
/// <c>datasets</c>' <c>json</c> builder reads them. The columns are the first object's keys. A line that is not a
/// JSON object, or whose text field is missing or not a string, is an <see cref="LmException"/> naming the line.
/// </summary>
public sealed class JsonFileSource(string path, string? textColumn) : ColumnFileSource(path, textColumn, "json")
{
    private IReadOnlyList<string>? _columns;

    /// <summary>The first object's keys.</summary>
    public override IReadOnlyList<string> Columns => _columns ??= ReadObjects().Select(o => Keys(o.Element, o.Line)).FirstOrDefault() ?? [];

    public override IEnumerable<string> ReadRows()
    {
        string? column = null;
        foreach (var (element, line) in ReadObjects())
        {
            column ??= ChooseTextColumn(FilePath, Keys(element, line), RequestedColumn);
            if (!Text(line, () => element.TryGetProperty(column, out _)))
                throw Malformed(line, $"the object has no '{column}' field");
            var value = element.GetProperty(column);
            if (value.ValueKind != JsonValueKind.String)
                throw Malformed(line, $"'{column}' is {value.ValueKind.ToString().ToLowerInvariant()}, not a string");
            yield return Text(line, () => value.GetString()!);
        }
    }

    /// <summary>
    /// The rows as JSON objects with their line (negative: the item number of a JSON array), for readers that need
    /// more than one text column (chat and instruction data).
    /// </summary>
    internal IEnumerable<(JsonElement Element, long Line)> ReadElements() => ReadObjects();

    /// <summary>The file read (for messages).</summary>
    internal string Path => FilePath;

    private List<string> Keys(JsonElement element, long line) => Text(line, () => element.EnumerateObject().Select(p => p.Name).ToList());

    /// <summary>
    /// Reads a string of the document. JSON may escape half of a UTF-16 surrogate pair alone (<c>"\ud800"</c>), which no
    /// .NET or Rust string holds: System.Text.Json throws when asked for it, HF's tokenizers refuse the text.
    /// </summary>
    private T Text<T>(long line, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (InvalidOperationException)
        {
            throw new LmException(ErrorCodes.InvalidUtf16InJson,
                (line >= 0 ? $"{FilePath}: line {line}: " : $"{FilePath}: array item {-line}: ") +
                "a string holds an unpaired UTF-16 surrogate escape (such as \\ud800), which is not text")
            { File = FilePath, Line = line >= 0 ? (int)line : null };
        }
    }

    private IEnumerable<(JsonElement Element, long Line)> ReadObjects() =>
        StartsWithArray() ? ReadArray() : ReadLines();

    private bool StartsWithArray()
    {
        using var reader = new Utf8ChunkReader(FilePath, 4096);
        while (reader.Read())
        {
            var trimmed = reader.Chunk.TrimStart();
            if (!trimmed.IsEmpty) return trimmed[0] == '[' || (trimmed[0] == '\uFEFF' && trimmed[1..].TrimStart().StartsWith("["));
        }
        return false;
    }

    private IEnumerable<(JsonElement, long)> ReadLines()
    {
        using var reader = new Utf8ChunkReader(FilePath);
        while (reader.Read())
        {
            var objects = new List<(JsonElement, long)>();
            long line = reader.ChunkFirstLine;
            foreach (var range in reader.Chunk.Split('\n'))
            {
                var text = reader.Chunk[range].TrimEnd('\r');
                if (line == 1 && text.Length > 0 && text[0] == '\uFEFF') text = text[1..];
                if (!text.IsWhiteSpace()) objects.Add((ParseObject(text.ToString(), line), line));
                line++;
            }
            foreach (var item in objects) yield return item;
        }
    }

    private JsonElement ParseObject(string text, long line)
    {
        JsonElement element;
        try
        {
            using var document = JsonDocument.Parse(text);
            element = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw Malformed(line, $"not valid JSON ({FirstSentence(e.Message)})");
        }
        if (element.ValueKind != JsonValueKind.Object) throw Malformed(line, "expected a JSON object");
        return element;
    }

    private IEnumerable<(JsonElement, long)> ReadArray()
    {
        string text = Utf8ChunkReader.ReadAllText(FilePath).TrimStart('\uFEFF');
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(text);
            root = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw Malformed((e.LineNumber ?? 0) + 1, $"not valid JSON ({FirstSentence(e.Message)})");
        }
        long index = 0;
        foreach (var element in root.EnumerateArray())
        {
            index++;
            if (element.ValueKind != JsonValueKind.Object)
                throw new LmException(ErrorCodes.MalformedJson, $"{FilePath}: array item {index} is not a JSON object") { File = FilePath };
            // Items of an array have no line of their own; report the item number instead.
            yield return (element, -index);
        }
    }

    private LmException Malformed(long line, string what) => line >= 0
        ? new LmException(ErrorCodes.MalformedJson, $"{FilePath}: line {line}: {what}") { File = FilePath, Line = (int)line }
        : new LmException(ErrorCodes.MalformedJson, $"{FilePath}: array item {-line}: {what}") { File = FilePath };

    private static string FirstSentence(string message)
    {
        int end = message.IndexOf(". ", StringComparison.Ordinal);
        return end < 0 ? message.TrimEnd('.') : message[..end];
    }
}
