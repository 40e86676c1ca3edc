using System.Globalization;
using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Jobs;

/// <summary>The kind of value a job field holds, as the CLI, MSBuild metadata and JSON see it.</summary>
public enum JobFieldKind { Text, Integer, Number, Boolean, Map }

/// <summary>
/// One argument of the fine-tune schema: its HF name (<c>learning_rate</c>), the section that declares it
/// (model, data or training) and its kind. The CLI flag (<c>--learning-rate</c>) and the MSBuild metadata name
/// (<c>LearningRate</c>) are derived from the HF name, so the three front ends cannot drift apart.
/// </summary>
public sealed record JobField(string Name, string Section, JobFieldKind Kind, bool Nullable, PropertyInfo Property)
{
    /// <summary>The CLI flag: HF name with <c>_</c> → <c>-</c>.</summary>
    public string FlagName => "--" + Name.Replace('_', '-');

    /// <summary>The MSBuild metadata / C# property name (<c>per_device_train_batch_size</c> → <c>PerDeviceTrainBatchSize</c>).</summary>
    public string PascalName => Property.Name;

    /// <summary>
    /// Converts text (a CLI flag value or MSBuild metadata) to this field's JSON value; an empty text clears a
    /// nullable field. Throws LM0403 naming the field when the text does not fit.
    /// </summary>
    public JsonNode? ParseText(string text)
    {
        string trimmed = text.Trim();
        if (trimmed.Length == 0 && Nullable) return null;
        switch (Kind)
        {
            case JobFieldKind.Text:
                return JsonValue.Create(text);
            case JobFieldKind.Integer:
                if (long.TryParse(trimmed, NumberStyles.Integer, CultureInfo.InvariantCulture, out long integer)
                    && integer is >= int.MinValue and <= int.MaxValue)
                    return JsonValue.Create((int)integer);
                throw Mismatch(text, "a whole number");
            case JobFieldKind.Number:
                if (double.TryParse(trimmed, NumberStyles.Float, CultureInfo.InvariantCulture, out double number) && double.IsFinite(number))
                    return JsonValue.Create(number);
                throw Mismatch(text, "a number");
            case JobFieldKind.Boolean:
                if (bool.TryParse(trimmed, out bool flag)) return JsonValue.Create(flag);
                throw Mismatch(text, "true or false");
            case JobFieldKind.Map:
                // key=value pairs separated by commas, as HF's lr_scheduler_kwargs on a command line.
                var map = new JsonObject();
                foreach (string pair in trimmed.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    int eq = pair.IndexOf('=');
                    if (eq <= 0 || !double.TryParse(pair[(eq + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
                        throw Mismatch(text, "key=number pairs separated by commas");
                    map[pair[..eq].Trim()] = v;
                }
                return map;
            default:
                throw new InvalidOperationException($"unhandled field kind {Kind}");
        }
    }

    private LmException Mismatch(string text, string expected) =>
        new(ErrorCodes.ArgumentTypeMismatch, $"{Name} expects {expected}, got '{text}'");

    internal static JobField FromProperty(string section, PropertyInfo property)
    {
        string name = property.GetCustomAttribute<JsonPropertyNameAttribute>()!.Name;
        Type type = property.PropertyType;
        Type? underlying = System.Nullable.GetUnderlyingType(type);
        bool nullable = underlying is not null || !type.IsValueType;
        Type core = underlying ?? type;
        JobFieldKind kind = core == typeof(string) ? JobFieldKind.Text
            : core == typeof(int) ? JobFieldKind.Integer
            : core == typeof(double) ? JobFieldKind.Number
            : core == typeof(bool) ? JobFieldKind.Boolean
            : core == typeof(Dictionary<string, double>) ? JobFieldKind.Map
            : throw new InvalidOperationException($"unsupported schema type {core} for {name}");
        // Only text fields without a default may be left empty; a map empties to {}.
        if (kind == JobFieldKind.Map) nullable = false;
        return new JobField(name, section, kind, nullable, property);
    }
}
