using System.Text.Json;
using Lm.Runtime.Errors;
using Lm.Runtime.Tokenization.Chat;

namespace Lm.Runtime.Data.Chat;

/// <summary>The shapes of supervised fine-tuning rows, as TRL's SFTTrainer tells them apart.</summary>
public enum SupervisedFormat
{
    /// <summary><c>{"messages": [{"role", "content"}, ...]}</c> (also ShareGPT's <c>conversations</c> of <c>from</c>/<c>value</c>).</summary>
    Messages,

    /// <summary><c>{"prompt", "completion"}</c>: two strings, or two lists of messages (conversational).</summary>
    PromptCompletion,

    /// <summary>Alpaca's <c>{"instruction", "input", "output"}</c> (and an optional <c>system</c>).</summary>
    Instruction,
}

/// <summary>
/// One supervised example before tokenization: a conversation (<see cref="Messages"/>), or a prompt and its
/// completion, each either text or messages. <see cref="Where"/> names the file and line for messages.
/// </summary>
public sealed record SupervisedRow(string Where)
{
    public IReadOnlyList<ChatMessage>? Messages { get; init; }
    public IReadOnlyList<ChatMessage>? PromptMessages { get; init; }
    public IReadOnlyList<ChatMessage>? CompletionMessages { get; init; }
    public string? PromptText { get; init; }
    public string? CompletionText { get; init; }

    /// <summary>Whether the row is a conversation (TRL's <c>is_conversational</c>).</summary>
    public bool IsConversational => Messages is not null || PromptMessages is not null;
}

/// <summary>
/// Reads chat and instruction rows from a data file: <c>.json</c>/<c>.jsonl</c> (any shape) and <c>.parquet</c>
/// (the flat shapes: string <c>prompt</c>/<c>completion</c> or <c>instruction</c>/<c>input</c>/<c>output</c>
/// columns). A row that does not have the shape of the file's first row is LM0335 naming its line.
/// </summary>
public static class SupervisedRows
{
    /// <summary>
    /// The format of a file's rows for <c>dataset_format</c> <paramref name="declared"/> (<c>auto</c> detects it from
    /// the first row as TRL does), or null when the rows are plain text for run_clm.py's pipeline.
    /// </summary>
    public static SupervisedFormat? Detect(string path, string declared, string? textColumn)
    {
        switch (declared)
        {
            case "text": return null;
            case "messages": return SupervisedFormat.Messages;
            case "prompt_completion": return SupervisedFormat.PromptCompletion;
            case "instruction": return SupervisedFormat.Instruction;
        }
        // auto: a text column asked for by name means text; other files than JSON and parquet hold text.
        if (textColumn is not null) return null;
        var keys = FirstRowKeys(path);
        if (keys is null) return null;
        if (keys.Contains("messages") || keys.Contains("conversations")) return SupervisedFormat.Messages;
        if (keys.Contains("prompt") && keys.Contains("completion")) return SupervisedFormat.PromptCompletion;
        if (keys.Contains("instruction") && keys.Contains("output")) return SupervisedFormat.Instruction;
        return null;
    }

    private static HashSet<string>? FirstRowKeys(string path)
    {
        string extension = System.IO.Path.GetExtension(path).ToLowerInvariant();
        if (extension is ".json" or ".jsonl")
        {
            var source = new JsonFileSource(path, null);
            foreach (var (element, _) in source.ReadElements())
                return element.EnumerateObject().Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
            return null;
        }
        if (extension == ".parquet") return new ParquetFileSource(path, null).Columns.ToHashSet(StringComparer.Ordinal);
        return null;
    }

    /// <summary>All rows of <paramref name="path"/> in <paramref name="format"/>.</summary>
    public static List<SupervisedRow> Read(string path, SupervisedFormat format)
    {
        TextSource.RequireNonEmptyFile(path);
        string extension = System.IO.Path.GetExtension(path).ToLowerInvariant();
        var rows = new List<SupervisedRow>();
        if (extension is ".json" or ".jsonl")
        {
            foreach (var (element, line) in new JsonFileSource(path, null).ReadElements())
                rows.Add(FromJson(element, format, line >= 0 ? $"{path}: line {line}" : $"{path}: array item {-line}", path, line));
        }
        else if (extension == ".parquet")
        {
            rows.AddRange(FromParquet(path, format));
        }
        else
        {
            throw new LmException(ErrorCodes.ChatFormatUnknown,
                $"{path}: chat and instruction rows are read from .json, .jsonl or .parquet files, not '{extension}'") { File = path };
        }
        if (rows.Count == 0) throw new LmException(ErrorCodes.DataFileEmpty, $"{path}: the file has no rows") { File = path };
        return rows;
    }

    private static SupervisedRow FromJson(JsonElement row, SupervisedFormat format, string where, string path, long line)
    {
        LmException Invalid(string what) => new(ErrorCodes.ChatRowInvalid, $"{where}: {what}") { File = path, Line = line >= 0 ? (int)line : null };
        JsonElement? Field(string name) => row.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;
        string Text(string name, bool required = true)
        {
            if (Field(name) is not { } value) return required ? throw Invalid($"the row has no '{name}' field") : "";
            return value.ValueKind == JsonValueKind.String ? value.GetString()! : throw Invalid($"'{name}' is {Kind(value)}, not a string");
        }
        try
        {
            switch (format)
            {
                case SupervisedFormat.Messages:
                    if (Field("messages") is { } messages) return new SupervisedRow(where) { Messages = Conversation(messages, "messages", Invalid) };
                    if (Field("conversations") is { } turns) return new SupervisedRow(where) { Messages = ShareGpt(turns, Invalid) };
                    throw Invalid("the row has no 'messages' field");
                case SupervisedFormat.PromptCompletion:
                    var prompt = Field("prompt") ?? throw Invalid("the row has no 'prompt' field");
                    var completion = Field("completion") ?? throw Invalid("the row has no 'completion' field");
                    if (prompt.ValueKind == JsonValueKind.Array)
                        return new SupervisedRow(where)
                        {
                            PromptMessages = Conversation(prompt, "prompt", Invalid),
                            CompletionMessages = Conversation(completion, "completion", Invalid),
                        };
                    return new SupervisedRow(where) { PromptText = Text("prompt"), CompletionText = Text("completion") };
                default:
                    return Alpaca(where, Text("instruction"), Text("input", required: false), Text("output"),
                        Field("system") is not null ? Text("system") : null);
            }
        }
        catch (InvalidOperationException)
        {
            throw new LmException(ErrorCodes.InvalidUtf16InJson, $"{where}: a string holds an unpaired UTF-16 surrogate escape (such as \\ud800), which is not text")
            { File = path, Line = line >= 0 ? (int)line : null };
        }
    }

    /// <summary>
    /// An Alpaca row in both forms: a conversation (the instruction, and its input after a blank line, as the user's
    /// turn; the output as the assistant's) for tokenizers with a chat template, and Stanford Alpaca's own prompt text
    /// (its train.py <c>PROMPT_DICT</c>, the output right after "### Response:") for those without.
    /// </summary>
    private static SupervisedRow Alpaca(string where, string instruction, string input, string output, string? system)
    {
        var prompt = new List<ChatMessage>();
        if (system is not null) prompt.Add(new ChatMessage("system", system));
        prompt.Add(new ChatMessage("user", input.Length > 0 ? instruction + "\n\n" + input : instruction));
        string promptText = input.Length > 0
            ? "Below is an instruction that describes a task, paired with an input that provides further context. " +
              $"Write a response that appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:"
            : "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n" +
              $"### Instruction:\n{instruction}\n\n### Response:";
        return new SupervisedRow(where)
        {
            PromptMessages = prompt,
            CompletionMessages = [new ChatMessage("assistant", output)],
            PromptText = promptText,
            CompletionText = output,
        };
    }

    private static List<ChatMessage> Conversation(JsonElement value, string name, Func<string, LmException> invalid)
    {
        if (value.ValueKind != JsonValueKind.Array) throw invalid($"'{name}' is {Kind(value)}, not a list of messages");
        var messages = new List<ChatMessage>();
        int index = 0;
        foreach (var message in value.EnumerateArray())
        {
            if (message.ValueKind != JsonValueKind.Object) throw invalid($"{name}[{index}] is {Kind(message)}, not an object with role and content");
            if (!message.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String)
                throw invalid($"{name}[{index}] has no string 'role'");
            if (!message.TryGetProperty("content", out var content) || content.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
                throw invalid($"{name}[{index}] has no string 'content' (lists of content parts are not read)");
            messages.Add(new ChatMessage(role.GetString()!, content.GetString() ?? ""));
            index++;
        }
        if (messages.Count == 0) throw invalid($"'{name}' is an empty list");
        return messages;
    }

    /// <summary>TRL's <c>maybe_convert_to_chatml</c>: <c>from</c>/<c>value</c> turns with human → user, gpt → assistant.</summary>
    private static List<ChatMessage> ShareGpt(JsonElement value, Func<string, LmException> invalid)
    {
        if (value.ValueKind != JsonValueKind.Array) throw invalid($"'conversations' is {Kind(value)}, not a list of turns");
        var messages = new List<ChatMessage>();
        foreach (var turn in value.EnumerateArray())
        {
            if (turn.ValueKind != JsonValueKind.Object
                || !turn.TryGetProperty("from", out var from) || from.ValueKind != JsonValueKind.String
                || !turn.TryGetProperty("value", out var text) || text.ValueKind != JsonValueKind.String)
                throw invalid("each item of 'conversations' needs string 'from' and 'value' fields");
            string role = from.GetString() switch
            {
                "human" => "user",
                "gpt" => "assistant",
                var other => other!,
            };
            messages.Add(new ChatMessage(role, text.GetString()!));
        }
        if (messages.Count == 0) throw invalid("'conversations' is an empty list");
        return messages;
    }

    private static IEnumerable<SupervisedRow> FromParquet(string path, SupervisedFormat format)
    {
        var columns = new ParquetFileSource(path, null).Columns;
        List<string> Column(string name, bool required = true)
        {
            if (!columns.Contains(name))
                return required
                    ? throw new LmException(ErrorCodes.UnknownColumn, $"{path}: no column '{name}'; the columns are: {string.Join(", ", columns)}") { File = path }
                    : [];
            return new ParquetFileSource(path, name).ReadRows().ToList();
        }
        switch (format)
        {
            case SupervisedFormat.PromptCompletion:
                var prompts = Column("prompt");
                var completions = Column("completion");
                for (int i = 0; i < prompts.Count; i++)
                    yield return new SupervisedRow($"{path}: row {i}") { PromptText = prompts[i], CompletionText = completions[i] };
                break;
            case SupervisedFormat.Instruction:
                var instructions = Column("instruction");
                var inputs = Column("input", required: false);
                var outputs = Column("output");
                var systems = Column("system", required: false);
                for (int i = 0; i < instructions.Count; i++)
                    yield return Alpaca($"{path}: row {i}", instructions[i], inputs.Count > 0 ? inputs[i] : "", outputs[i], systems.Count > 0 ? systems[i] : null);
                break;
            default:
                throw new LmException(ErrorCodes.ChatFormatUnknown,
                    $"{path}: conversations (lists of messages) are read from .json or .jsonl files; convert the parquet file, e.g. with datasets' to_json") { File = path };
        }
    }

    private static string Kind(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Array => "a list",
        JsonValueKind.Object => "an object",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "a string",
    };
}
