using System.Reflection;
using System.Text.Json.Nodes;
using Lm.Runtime.Data;
using Lm.Runtime.Jobs;
using Lm.Runtime.Training;

namespace Lm.Generators.Tests.Emitting;

public class JobSourceEmitterTests
{
    [Fact]
    public void Causal_lm_class_generates_typed_members_and_the_assembly_attribute()
    {
        var run = GeneratorHarness.Run(Samples.WikiGpt2);
        Assert.Empty(run.GeneratorDiagnostics);
        Snapshot.Match(run.SourceOf("Sample.WikiGpt2.FineTuneJob.g.cs"), "WikiGpt2");
    }

    [Fact]
    public void Nested_class_is_emitted_inside_its_containing_types_with_escaped_text()
    {
        var run = GeneratorHarness.Run(Samples.NestedRoberta);
        Assert.Empty(run.GeneratorDiagnostics);
        Snapshot.Match(run.SourceOf("Company.Models.Jobs.WikiRoberta.FineTuneJob.g.cs"), "NestedRoberta");
    }

    [Fact]
    public void Item_metadata_fills_what_the_class_leaves_unset_but_not_the_attribute_json()
    {
        var run = GeneratorHarness.Run(Samples.ItemConfigured, Samples.TinyItem);
        Assert.Empty(run.GeneratorDiagnostics);
        Snapshot.Match(run.SourceOf("TinyJob.FineTuneJob.g.cs"), "ItemConfigured");
    }

    [Theory]
    [InlineData(Samples.WikiGpt2)]
    [InlineData(Samples.NestedRoberta)]
    [InlineData(Samples.ItemConfigured)]
    public void Generated_code_compiles_without_warnings(string source)
    {
        var run = GeneratorHarness.Run(source, Samples.TinyItem);
        Assert.Empty(run.CompileErrors);
    }

    [Fact]
    public void Typed_job_equals_what_the_command_line_resolves_from_the_same_values()
    {
        var run = GeneratorHarness.Run(Samples.WikiGpt2);
        Type type = GeneratorHarness.Load(run.Output).GetType("Sample.WikiGpt2")!;
        var typed = (FineTuneJob)type.GetMethod("CreateJob")!.Invoke(null, null)!;

        // The same values as `lm-tune train` flags, converted the way the CLI converts flag text.
        var flags = new (string Flag, string Value)[]
        {
            ("--model-name-or-path", "tiny-gpt2"), ("--objective", "clm"), ("--train-file", "data/train.txt"),
            ("--validation-file", "data/validation.txt"), ("--block-size", "128"), ("--learning-rate", "2e-5"),
            ("--weight-decay", "0.01"), ("--num-train-epochs", "1"), ("--per-device-train-batch-size", "4"),
            ("--eval-strategy", "epoch"), ("--lr-scheduler-type", "cosine"), ("--lr-scheduler-kwargs", "num_cycles=0.5"),
        };
        var json = new JsonObject();
        foreach (var (flag, value) in flags)
        {
            var field = FineTuneJob.FindField(flag)!;
            json[field.Name] = field.ParseText(value);
        }
        var fromCli = FineTuneJob.FromJson(json);

        Assert.Equal(fromCli.ToJson(), typed.ToJson());
        Assert.Equal(2e-5, typed.Training.LearningRate);
        Assert.Equal(0.5, typed.Training.LrSchedulerKwargs["num_cycles"]);
        typed.Validate();
    }

    [Fact]
    public void Assembly_attribute_json_reads_back_to_the_typed_job()
    {
        var run = GeneratorHarness.Run(Samples.NestedRoberta);
        Assembly assembly = GeneratorHarness.Load(run.Output);
        var attribute = assembly.GetCustomAttributes<FineTuneJobConfigurationAttribute>().Single();
        Assert.Equal("wiki-roberta", attribute.JobName);
        Assert.Equal("Company.Models.Jobs.WikiRoberta", attribute.ConfigType);

        var typed = (FineTuneJob)assembly.GetType("Company.Models.Jobs+WikiRoberta")!.GetMethod("CreateJob")!.Invoke(null, null)!;
        Assert.Equal(FineTuneJob.FromJson(attribute.Json).ToJson(), typed.ToJson());
        Assert.Equal("body \"quoted\"", typed.Data.TextColumn);
        Assert.Equal(0.2, typed.Data.MlmProbability);
    }

    [Fact]
    public void Attribute_json_holds_only_the_class_values_while_typed_arguments_include_the_item()
    {
        var run = GeneratorHarness.Run(Samples.ItemConfigured, Samples.TinyItem);
        Assembly assembly = GeneratorHarness.Load(run.Output);
        var attribute = assembly.GetCustomAttributes<FineTuneJobConfigurationAttribute>().Single();
        Assert.Equal("""{"max_steps":20}""", attribute.Json);

        Type type = assembly.GetType("TinyJob")!;
        var training = (TrainingArguments)type.GetProperty("TrainingArguments")!.GetValue(null)!;
        Assert.Equal(1e-4, training.LearningRate);
        Assert.Equal(20, training.MaxSteps);
        Assert.Equal(3.0, training.NumTrainEpochs);
        // A new instance on every read: changing one cannot leak into the next user.
        training.LearningRate = 1;
        Assert.Equal(1e-4, ((TrainingArguments)type.GetProperty("TrainingArguments")!.GetValue(null)!).LearningRate);
        var data = (DataArguments)type.GetMethod("CreateDataArguments")!.Invoke(null, null)!;
        Assert.False(data.KeepLinebreaks);
    }

    [Fact]
    public void Text_with_line_breaks_and_control_characters_survives_both_literals()
    {
        const string column = "a\nb\r\t\u0001\u2028\"\\é";
        var run = GeneratorHarness.Run("""
            using Lm.Runtime.Configuration;
            [FineTuneJob("j")]
            [TextDataset(TextColumn = "a\nb\r\t\u0001\u2028\"\\é")]
            partial class C { }
            """);
        Assembly assembly = GeneratorHarness.Load(run.Output);
        var typed = (FineTuneJob)assembly.GetType("C")!.GetMethod("CreateJob")!.Invoke(null, null)!;
        Assert.Equal(column, typed.Data.TextColumn);
        var attribute = assembly.GetCustomAttributes<FineTuneJobConfigurationAttribute>().Single();
        Assert.Equal(column, FineTuneJob.FromJson(attribute.Json).Data.TextColumn);
    }
}
