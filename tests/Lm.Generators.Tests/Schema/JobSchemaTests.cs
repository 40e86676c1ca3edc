using System.Globalization;
using System.Reflection;
using System.Text.Json.Nodes;
using Lm.Generators.Model;
using Lm.Generators.Schema;
using Lm.Generators.Validation;
using Lm.Runtime.Configuration;
using Lm.Runtime.Errors;
using Lm.Runtime.Jobs;
using Lm.Runtime.Training;
using Lm.Schema;

namespace Lm.Generators.Tests.Schema;

/// <summary>The generator checks at compile time what the runtime checks at run time, from the one schema table.</summary>
public class JobSchemaTests
{
    [Fact]
    public void Generator_choices_are_the_runtime_choices()
    {
        Assert.Equal(SchedulerType.All, JobSchema.Find("lr_scheduler_type")!.Choices);
        Assert.Equal(IntervalStrategy.All, JobSchema.Find("eval_strategy")!.Choices);
        Assert.Equal(IntervalStrategy.All, JobSchema.Find("save_strategy")!.Choices);
        Assert.Equal(IntervalStrategy.All, JobSchema.Find("logging_strategy")!.Choices);
    }

    [Fact]
    public void Attributes_have_one_property_per_field_of_their_section_with_a_matching_type()
    {
        var attributes = new Dictionary<string, Type>
        {
            [JobSchema.Model] = typeof(FineTuneJobAttribute),
            [JobSchema.Data] = typeof(TextDatasetAttribute),
            [JobSchema.Training] = typeof(TrainingAttribute),
        };
        foreach (var (section, attribute) in attributes)
        {
            var settable = attribute.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite)
                .ToDictionary(p => p.Name, p => p.PropertyType);
            // A credential has no attribute property: attribute values are compiled into the assembly and ship with the app.
            var fields = JobSchema.Fields.Where(f => f.Section == section && !f.IsSecret).ToList();
            Assert.All(JobSchema.Fields.Where(f => f.Section == section && f.IsSecret), f => Assert.DoesNotContain(f.AttributeProperty, settable.Keys));
            Assert.Equal(fields.Select(f => f.AttributeProperty).Order(), settable.Keys.Order());
            foreach (SchemaField field in fields)
            {
                Type expected = field.Kind switch
                {
                    FieldKind.Integer => typeof(int),
                    FieldKind.Number => typeof(double),
                    FieldKind.Boolean => typeof(bool),
                    _ => typeof(string),
                };
                Assert.True(expected == settable[field.AttributeProperty], $"{attribute.Name}.{field.AttributeProperty} should be {expected.Name}");
            }
        }
    }

    /// <summary>For every field with a range or choices: a value the generator rejects, the runtime rejects too, and vice versa.</summary>
    [Theory]
    [MemberData(nameof(BoundaryValues))]
    public void Generator_accepts_exactly_what_the_runtime_validation_accepts(string name, string text)
    {
        SchemaField field = JobSchema.Find(name)!;
        var generatorProblems = JobValidator.Validate(new[] { new FieldValue(name, text, null, "j") });

        var json = new JsonObject { ["model_name_or_path"] = "m", [name] = FineTuneJob.FindField(name)!.ParseText(text) };
        LmException? runtimeProblem = null;
        try { FineTuneJob.FromJson(json).Validate(); }
        catch (LmException e) { runtimeProblem = e; }

        Assert.True((runtimeProblem is null) == (generatorProblems.Count == 0),
            $"{name}={text}: runtime says '{runtimeProblem?.Message ?? "valid"}', generator says '{string.Join("; ", generatorProblems.Select(d => d.Id))}'");
        if (runtimeProblem is not null) Assert.StartsWith(name + " ", runtimeProblem.Message);
    }

    public static TheoryData<string, string> BoundaryValues()
    {
        // The values around both bounds of a range overlap (warmup_ratio's 0 and 1): each case once.
        var cases = new HashSet<(string, string)>();
        var data = new TheoryData<string, string>();
        void Add(string name, string text)
        {
            if (cases.Add((name, text))) data.Add(name, text);
        }
        foreach (SchemaField field in JobSchema.Fields)
        {
            if (field.Range is ValueRange range)
            {
                foreach (double bound in new[] { range.Min, range.Max }.OfType<double>())
                {
                    foreach (double value in new[] { bound - 1, bound - 0.5, bound, bound + 0.5, bound + 1, bound + 1.5, bound + 2 })
                    {
                        if (field.Kind == FieldKind.Integer && value != Math.Floor(value)) continue;
                        Add(field.Name, value.ToString("R", CultureInfo.InvariantCulture));
                    }
                }
            }
            foreach (string choice in field.Choices ?? Array.Empty<string>())
                Add(field.Name, choice.Replace(":N", ":0"));
            if (field.Choices is not null) Add(field.Name, "bogus");
        }
        foreach (string value in new[] { "-2", "-1", "0", "1" }) Add("max_steps", value);
        foreach (string value in new[] { "-1", "0", "0.5" }) Add("num_train_epochs", value);
        return data;
    }

    /// <summary>Arguments checked together: the generator and the runtime agree on which combinations are valid.</summary>
    [Theory]
    [InlineData("""{ "load_best_model_at_end": true, "eval_strategy": "steps", "save_strategy": "steps", "eval_steps": 200, "save_steps": 500 }""")]
    [InlineData("""{ "load_best_model_at_end": true, "eval_strategy": "steps", "save_strategy": "steps", "eval_steps": 200, "save_steps": 400 }""")]
    [InlineData("""{ "load_best_model_at_end": true, "eval_strategy": "steps", "save_strategy": "steps", "logging_steps": 100 }""")]
    [InlineData("""{ "load_best_model_at_end": true, "eval_strategy": "steps", "save_strategy": "steps", "logging_steps": 300 }""")]
    [InlineData("""{ "load_best_model_at_end": true, "eval_strategy": "steps", "save_strategy": "steps", "eval_steps": 0.1, "save_steps": 0.25 }""")]
    [InlineData("""{ "load_best_model_at_end": true, "eval_strategy": "epoch", "save_strategy": "steps" }""")]
    [InlineData("""{ "load_best_model_at_end": true, "eval_strategy": "epoch", "save_strategy": "epoch" }""")]
    [InlineData("""{ "load_best_model_at_end": true }""")]
    [InlineData("""{ "early_stopping_patience": 2 }""")]
    [InlineData("""{ "early_stopping_patience": 2, "eval_strategy": "epoch" }""")]
    [InlineData("""{ "max_steps": 10, "num_train_epochs": 0 }""")]
    [InlineData("""{ "max_steps": -1, "num_train_epochs": 0 }""")]
    public void Generator_and_runtime_agree_on_arguments_checked_together(string json)
    {
        var values = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject()
            .Select(p => new FieldValue(p.Key, JobSchema.Find(p.Key)!.Kind == FieldKind.Boolean ? p.Value!.ToJsonString() : p.Value!.ToString(), null, null))
            .Select(v => v with { Text = FieldText.TryNormalize(JobSchema.Find(v.Name)!, v.Text)! })
            .ToList();
        var generatorProblems = JobValidator.Validate(values);
        var job = JsonNode.Parse(json)!.AsObject();
        job["model_name_or_path"] = "m";
        LmException? runtimeProblem = null;
        try { FineTuneJob.FromJson(job).Validate(); }
        catch (LmException e) { runtimeProblem = e; }
        Assert.True((runtimeProblem is null) == (generatorProblems.Count == 0),
            $"runtime says '{runtimeProblem?.Message ?? "valid"}', generator says '{string.Join("; ", generatorProblems.Select(d => string.Join(" ", d.Arguments)))}'");
    }

    [Fact]
    public void Every_model_preset_is_a_known_model_of_its_family()
    {
        foreach (string preset in Lm.Runtime.Models.ModelPresets.Names)
        {
            Assert.True(KnownModels.ByName.TryGetValue(preset, out Lm.Schema.ArchitectureRow? family), $"preset {preset} is missing from KnownModels.ByName");
            Assert.Equal(Lm.Runtime.Models.ModelPresets.Config(preset).ModelType, family!.ModelType);
        }
        Assert.Equal(Lm.Runtime.Models.ModelConfig.SupportedModelTypes.Order(), KnownModels.ByModelType.Keys.Order());
    }

    [Fact]
    public void Every_diagnostic_id_has_a_runtime_constant_and_a_row_in_the_error_table()
    {
        // ErrorCodes is also compiled into the generator (src/Shared): take the engine's by its assembly.
        var constants = typeof(LmException).Assembly.GetType("Lm.Runtime.Errors.ErrorCodes")!.GetFields().Select(f => (string)f.GetValue(null)!).ToHashSet();
        string table = File.ReadAllText(Path.Combine(Repository.Root, "docs", "errors.md"));
        foreach (var descriptor in Lm.Generators.Diagnostics.DiagnosticDescriptors.All)
        {
            Assert.Contains(descriptor.Id, constants);
            Assert.Contains("| " + descriptor.Id + " |", table);
        }
    }
}
