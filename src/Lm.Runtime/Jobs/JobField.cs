using System.Reflection;
using System.Text.Json.Nodes;
using Lm.Runtime.Errors;
using Lm.Schema;

namespace Lm.Runtime.Jobs;

/// <summary>The kind of value a job field holds, as the CLI, MSBuild metadata and JSON see it (the schema table's kinds, in order).</summary>
public enum JobFieldKind { Text, Integer, Number, Boolean, Map }

/// <summary>
/// One argument of the fine-tune schema (the shared table <c>src/Shared/Schema/JobSchema.cs</c>): its HF name
/// (<c>learning_rate</c>), the section that declares it (model, data or training), its kind and the property of the
/// section's arguments class that holds it. The CLI flag (<c>--learning-rate</c>) and the MSBuild metadata name
/// (<c>LearningRate</c>) are derived from the HF name.
/// </summary>
public sealed record JobField(string Name, string Section, JobFieldKind Kind, bool Nullable, PropertyInfo Property)
{
    /// <summary>The CLI flag: HF name with <c>_</c> → <c>-</c>.</summary>
    public string FlagName => "--" + Name.Replace('_', '-');

    /// <summary>The MSBuild metadata / C# property name (<c>per_device_train_batch_size</c> → <c>PerDeviceTrainBatchSize</c>).</summary>
    public string PascalName => Property.Name;

    /// <summary>
    /// Converts text (a CLI flag value or MSBuild metadata) to this field's JSON value, read as every front end reads
    /// it (<see cref="FieldText"/>); an empty text clears a nullable field. Throws LM0403 naming the field when the text
    /// does not fit.
    /// </summary>
    public JsonNode? ParseText(string text)
    {
        if (text.Trim().Length == 0 && Nullable) return null;
        SchemaField field = JobSchema.Find(Name)!;
        string normalized = FieldText.TryNormalize(field, text)
            ?? throw new LmException(ErrorCodes.ArgumentTypeMismatch, $"{Name} expects {field.Expected}, got '{text}'");
        return JsonNode.Parse(FieldText.ToJson(field, normalized));
    }

    /// <summary>The field of the shared schema table, bound to its property of the section's arguments class.</summary>
    internal static JobField FromSchema(SchemaField field, Type arguments)
    {
        PropertyInfo property = arguments.GetProperty(field.PascalName)
            ?? throw new InvalidOperationException($"{arguments.Name} has no property {field.PascalName} for {field.Name}");
        return new JobField(field.Name, field.Section, (JobFieldKind)field.Kind, field.Nullable, property);
    }
}
