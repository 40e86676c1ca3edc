using Lm.Runtime.Jobs;
using Lm.Tasks.Schema;

namespace Lm.Tasks.Tests.Schema;

public class JobSchemaTests
{
    [Fact]
    public void Field_table_equals_the_runtime_schema()
    {
        string Expected() => string.Join("\n", FineTuneJob.Fields.Select(f => $"        new(\"{f.Name}\", SchemaFieldKind.{f.Kind}),"));
        var actual = JobSchema.Fields.Select(f => (f.Name, Kind: f.Kind.ToString(), f.MetadataName)).ToList();
        var expected = FineTuneJob.Fields.Select(f => (f.Name, Kind: f.Kind.ToString(), MetadataName: f.PascalName)).ToList();
        Assert.True(expected.SequenceEqual(actual),
            "src/Lm.Tasks/Schema/JobSchema.cs is out of date with FineTuneJob.Fields; replace its table with:\n" + Expected());
    }

    [Fact]
    public void Targets_make_every_schema_field_visible_to_the_generator()
    {
        var targets = System.Xml.Linq.XDocument.Load(Path.Combine(RepoRoot.Path, "src", "Lm.Tasks", "build", "Lm.Build.targets"));
        string include = (string)targets.Descendants("_LmCompilerVisibleMetadata").Single().Attribute("Include")!;
        var visible = include.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(["Identity", "Config", "Model", .. FineTuneJob.Fields.Select(f => f.PascalName)], visible);
    }

    [Theory]
    [InlineData("LearningRate", "3e-5", "3E-05")]
    [InlineData("learningrate", "0.001", "0.001")]
    [InlineData("BlockSize", " 64 ", "64")]
    [InlineData("DoEval", "True", "true")]
    [InlineData("LrSchedulerKwargs", "power=2, lr_end=1e-7", "{\"power\":2,\"lr_end\":1E-07}")]
    [InlineData("Objective", "clm", "\"clm\"")]
    public void Metadata_text_converts_as_the_runtime_converts_flag_text(string metadataName, string text, string json)
    {
        var field = JobSchema.FindByMetadataName(metadataName)!;
        Assert.True(field.TryParse(text, out var value));
        Assert.Equal(json, value!.ToJsonString());
        Assert.Equal(json, FineTuneJob.FindField(field.Name)!.ParseText(text)!.ToJsonString());
    }

    [Theory]
    [InlineData("LearningRate", "fast")]
    [InlineData("BlockSize", "6.5")]
    [InlineData("DoTrain", "yes")]
    [InlineData("LrSchedulerKwargs", "power")]
    public void Metadata_text_of_the_wrong_kind_is_refused(string metadataName, string text)
    {
        Assert.False(JobSchema.FindByMetadataName(metadataName)!.TryParse(text, out _));
    }

    [Theory]
    [InlineData("LearningRat", "LearningRate")]
    [InlineData("NumTrainEpoch", "NumTrainEpochs")]
    [InlineData("Visible", null)]
    [InlineData("LearningRate", null)]
    public void Misspelt_metadata_suggests_the_field(string name, string? suggestion)
    {
        Assert.Equal(suggestion, JobSchema.NearestMetadataName(name));
    }
}
