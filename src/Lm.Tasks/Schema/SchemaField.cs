using System.Globalization;
using System.Text.Json.Nodes;

namespace Lm.Tasks.Schema;

/// <summary>The kind of value a schema field holds; mirrors <c>Lm.Runtime.Jobs.JobFieldKind</c>.</summary>
internal enum SchemaFieldKind { Text, Integer, Number, Boolean, Map }

/// <summary>
/// One field of the fine-tune job schema as MSBuild metadata sees it: the HF name written to the job JSON
/// (<c>learning_rate</c>) and the metadata name (<c>LearningRate</c>).
/// </summary>
internal sealed record SchemaField(string Name, SchemaFieldKind Kind)
{
    /// <summary>The metadata name: each <c>_</c>-separated part capitalised (<c>per_device_train_batch_size</c> → <c>PerDeviceTrainBatchSize</c>).</summary>
    public string MetadataName { get; } = string.Concat(Name.Split('_').Select(part => char.ToUpperInvariant(part[0]) + part[1..]));

    /// <summary>What a value must look like, for messages.</summary>
    public string Expected => Kind switch
    {
        SchemaFieldKind.Integer => "a whole number",
        SchemaFieldKind.Number => "a number",
        SchemaFieldKind.Boolean => "true or false",
        SchemaFieldKind.Map => "key=number pairs separated by commas",
        _ => "text",
    };

    /// <summary>
    /// Converts a metadata value to the field's JSON value as the CLI converts flag values
    /// (<c>Lm.Runtime.Jobs.JobField.ParseText</c>); false when the text does not fit the kind.
    /// </summary>
    public bool TryParse(string text, out JsonNode? value)
    {
        string trimmed = text.Trim();
        value = null;
        switch (Kind)
        {
            case SchemaFieldKind.Integer:
                if (!int.TryParse(trimmed, NumberStyles.Integer, CultureInfo.InvariantCulture, out int integer)) return false;
                value = JsonValue.Create(integer);
                return true;
            case SchemaFieldKind.Number:
                if (!double.TryParse(trimmed, NumberStyles.Float, CultureInfo.InvariantCulture, out double number) || !double.IsFinite(number))
                    return false;
                value = JsonValue.Create(number);
                return true;
            case SchemaFieldKind.Boolean:
                if (!bool.TryParse(trimmed, out bool flag)) return false;
                value = JsonValue.Create(flag);
                return true;
            case SchemaFieldKind.Map:
                // key=value pairs separated by commas, as HF's lr_scheduler_kwargs on a command line.
                var map = new JsonObject();
                foreach (string pair in trimmed.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    int eq = pair.IndexOf('=');
                    if (eq <= 0 || !double.TryParse(pair[(eq + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
                        return false;
                    map[pair[..eq].Trim()] = v;
                }
                value = map;
                return true;
            default:
                value = JsonValue.Create(text);
                return true;
        }
    }
}
