using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Lm.Generators.Tests;

public class FineTuneJobGeneratorTests
{
    private static readonly string[] TrackedSteps =
    {
        FineTuneJobGenerator.TrackingNames.JobClasses,
        FineTuneJobGenerator.TrackingNames.JobItems,
        FineTuneJobGenerator.TrackingNames.ResolvedJobs,
        FineTuneJobGenerator.TrackingNames.ProjectDiagnostics,
    };

    [Fact]
    public void Editing_an_unrelated_file_leaves_every_step_and_output_cached()
    {
        var compilation = GeneratorHarness.Compile(Samples.WikiGpt2, Samples.ItemConfigured, "namespace App; class Unrelated { int X => 1; }");
        GeneratorDriver driver = GeneratorHarness.CreateDriver(new[] { Samples.TinyItem }, trackSteps: true).RunGenerators(compilation);

        SyntaxTree unrelated = compilation.SyntaxTrees.Last();
        var edited = compilation.ReplaceSyntaxTree(unrelated,
            unrelated.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From("namespace App; class Unrelated { int X => 2; int Y => 3; }")));
        GeneratorRunResult second = driver.RunGenerators(edited).GetRunResult().Results.Single();

        foreach (string step in TrackedSteps)
        {
            var outputs = second.TrackedSteps[step].SelectMany(s => s.Outputs).ToList();
            Assert.NotEmpty(outputs);
            Assert.All(outputs, o => Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged,
                $"{step} output was {o.Reason}"));
        }
        var sourceOutputs = second.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs).ToList();
        Assert.NotEmpty(sourceOutputs);
        Assert.All(sourceOutputs, o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
    }

    [Fact]
    public void Editing_a_job_class_regenerates_only_that_job()
    {
        var compilation = GeneratorHarness.Compile(Samples.WikiGpt2, Samples.ItemConfigured);
        GeneratorDriver driver = GeneratorHarness.CreateDriver(new[] { Samples.TinyItem }, trackSteps: true).RunGenerators(compilation);

        SyntaxTree wiki = compilation.SyntaxTrees.First();
        var edited = compilation.ReplaceSyntaxTree(wiki, CSharpSyntaxTree.ParseText(
            Samples.WikiGpt2.Replace("LearningRate = 2e-5", "LearningRate = 3e-5"), GeneratorHarness.ParseOptions, wiki.FilePath));
        GeneratorDriverRunResult run = driver.RunGenerators(edited).GetRunResult();

        var reasons = run.Results.Single().TrackedSteps[FineTuneJobGenerator.TrackingNames.ResolvedJobs]
            .SelectMany(s => s.Outputs).Select(o => o.Reason).ToList();
        Assert.Contains(IncrementalStepRunReason.Modified, reasons);
        Assert.Contains(IncrementalStepRunReason.Cached, reasons);
        Assert.Contains("LearningRate = 3E-05,", run.Results.Single().GeneratedSources.Single(s => s.HintName == "Sample.WikiGpt2.FineTuneJob.g.cs").SourceText.ToString());
    }
}
