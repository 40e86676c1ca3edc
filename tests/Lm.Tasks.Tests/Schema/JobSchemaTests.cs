using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Lm.Runtime.Data;
using Lm.Runtime.Jobs;
using Lm.Runtime.Models;
using Lm.Runtime.Training;
using Lm.Schema;

namespace Lm.Tasks.Tests.Schema;

public class JobSchemaTests
{
    private static readonly Dictionary<string, Type> ArgumentClasses = new()
    {
        [JobSchema.Model] = typeof(ModelArguments),
        [JobSchema.Data] = typeof(DataArguments),
        [JobSchema.Training] = typeof(TrainingArguments),
    };

    /// <summary>
    /// The one drift check: the shared schema table (src/Shared/Schema/JobSchema.cs), the runtime's argument classes
    /// (the properties that consume the values) and the MSBuild targets' metadata list name the same fields, in the
    /// same order, with the same JSON names, kinds, nullability and defaults.
    /// </summary>
    [Fact]
    public void Schema_table_argument_classes_and_targets_metadata_list_agree()
    {
        var problems = new List<string>();
        foreach (var (section, type) in ArgumentClasses)
        {
            var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .Where(p => p.GetCustomAttribute<JsonPropertyNameAttribute>() is not null).ToList();
            var rows = JobSchema.Fields.Where(f => f.Section == section).ToList();
            if (!properties.Select(p => p.Name).SequenceEqual(rows.Select(f => f.PascalName)))
                problems.Add($"{type.Name} properties [{string.Join(", ", properties.Select(p => p.Name))}] != table rows [{string.Join(", ", rows.Select(f => f.PascalName))}]");
            JsonObject defaults = JsonSerializer.SerializeToNode(Activator.CreateInstance(type), type)!.AsObject();
            foreach (var property in properties)
            {
                var field = JobSchema.FindByPascalName(property.Name);
                if (field is null) continue;
                string jsonName = property.GetCustomAttribute<JsonPropertyNameAttribute>()!.Name;
                if (jsonName != field.Name) problems.Add($"{type.Name}.{property.Name}: JSON name {jsonName}, table {field.Name}");
                Type core = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
                FieldKind kind = core == typeof(string) ? FieldKind.Text : core == typeof(int) ? FieldKind.Integer
                    : core == typeof(double) ? FieldKind.Number : core == typeof(bool) ? FieldKind.Boolean : FieldKind.Map;
                if (kind != field.Kind) problems.Add($"{field.Name}: property is {core.Name}, table says {field.Kind}");
                bool nullable = Nullable.GetUnderlyingType(property.PropertyType) is not null
                    || new NullabilityInfoContext().Create(property).WriteState == NullabilityState.Nullable;
                if (nullable != field.Nullable) problems.Add($"{field.Name}: property nullable {nullable}, table {field.Nullable}");
                JsonNode? expected = field.DefaultJson is null ? null : JsonNode.Parse(field.DefaultJson);
                if (!JsonNode.DeepEquals(ByValue(defaults[jsonName]), ByValue(expected)))
                    problems.Add($"{field.Name}: property default {defaults[jsonName]?.ToJsonString() ?? "null"}, table {field.DefaultJson ?? "null"}");
            }
        }
        Assert.True(Enum.GetNames<JobFieldKind>().SequenceEqual(Enum.GetNames<FieldKind>()), "JobFieldKind must list the table's kinds in order");
        Assert.Equal(JobSchema.Fields.Select(f => f.Name), FineTuneJob.Fields.Select(f => f.Name));

        var targets = System.Xml.Linq.XDocument.Load(Path.Combine(RepoRoot.Path, "src", "Lm.Tasks", "build", "Lm.Build.targets"));
        string include = (string)targets.Descendants("_LmCompilerVisibleMetadata").Single().Attribute("Include")!;
        var visible = include.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string[] expectedVisible = ["Identity", "Config", "Model", .. JobSchema.Fields.Select(f => f.PascalName)];
        if (!visible.SequenceEqual(expectedVisible))
            problems.Add("Lm.Build.targets' _LmCompilerVisibleMetadata should be: " + string.Join(";", expectedVisible));
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Theory]
    [InlineData("LearningRate", "3e-5", "3E-05")]
    [InlineData("learningrate", "0.001", "0.001")]
    [InlineData("BlockSize", " 64 ", "64")]
    [InlineData("DoEval", "True", "true")]
    [InlineData("LrSchedulerKwargs", "power=2, lr_end=1e-7", "{\"power\":2,\"lr_end\":1E-07}")]
    [InlineData("Objective", "clm", "\"clm\"")]
    [InlineData("PushToHub", "true", "true")]
    [InlineData("HubModelId", "acme/tiny-pushed", "\"acme/tiny-pushed\"")]
    [InlineData("HubStrategy", "checkpoint", "\"checkpoint\"")]
    public void Metadata_text_converts_as_the_runtime_converts_flag_text(string metadataName, string text, string json)
    {
        var field = JobSchema.FindByPascalName(metadataName)!;
        Assert.Equal(json, FieldText.ToJson(field, FieldText.TryNormalize(field, text)!));
        Assert.Equal(json, FineTuneJob.FindField(field.Name)!.ParseText(text)!.ToJsonString());
    }

    [Theory]
    [InlineData("LearningRate", "fast")]
    [InlineData("BlockSize", "6.5")]
    [InlineData("DoTrain", "yes")]
    [InlineData("LrSchedulerKwargs", "power")]
    [InlineData("LearningRate", "NaN")]
    public void Metadata_text_of_the_wrong_kind_is_refused(string metadataName, string text)
    {
        Assert.Null(FieldText.TryNormalize(JobSchema.FindByPascalName(metadataName)!, text));
    }

    [Theory]
    [InlineData("LearningRat", "LearningRate")]
    [InlineData("NumTrainEpoch", "NumTrainEpochs")]
    [InlineData("Visible", null)]
    [InlineData("LearningRate", null)]
    public void Misspelt_metadata_suggests_the_field(string name, string? suggestion)
    {
        Assert.Equal(suggestion, Suggestion.Nearest(name, JobSchema.Fields.Select(f => f.PascalName)));
    }

    // Compare numbers by value (5e-05 and 5E-05 are one default).
    private static JsonNode? ByValue(JsonNode? node) => node switch
    {
        JsonValue value when value.GetValueKind() == JsonValueKind.Number => JsonValue.Create(value.GetValue<double>()),
        _ => node?.DeepClone(),
    };
}
