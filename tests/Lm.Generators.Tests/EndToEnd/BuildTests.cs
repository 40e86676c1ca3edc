using System.Diagnostics;

namespace Lm.Generators.Tests.EndToEnd;

/// <summary>
/// The generator in a real <c>dotnet build</c>: MSBuild passes <c>&lt;LanguageModelFineTune&gt;</c> items as
/// additional files with compiler-visible metadata (the contract of docs/generator.md), and diagnostics fail the
/// build at the attribute argument's file and line.
/// </summary>
[Trait("Category", "Slow")]
public class BuildTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "lm-generator-build-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public void Invalid_value_and_item_conflict_fail_the_build_at_the_argument_line()
    {
        WriteProject(item: """<LanguageModelFineTune Include="wiki-gpt2" Model="distilgpt2" TrainFile="data/other.txt" Config="WikiGpt2" />""",
            config: """
            using Lm.Runtime.Configuration;

            namespace App;

            [FineTuneJob("wiki-gpt2", Objective = "clm")]
            [TextDataset(TrainFile = "data/train.txt")]
            [Training(LearningRate = -1)]
            public partial class WikiGpt2
            {
            }
            """);
        var (exitCode, output) = Build();
        Assert.NotEqual(0, exitCode);
        Assert.Contains("Config.cs(7,11): error LM1001: LearningRate (learning_rate) must be positive, got -1", output);
        Assert.Contains("Config.cs(6,14): error LM1009: TrainFile (train_file) is 'data/train.txt' in 'App.WikiGpt2' but 'data/other.txt'", output);
    }

    [Fact]
    public void Valid_job_builds_and_the_app_reads_its_typed_arguments_with_the_item_values()
    {
        WriteProject(item: """<LanguageModelFineTune Include="wiki-gpt2" Model="distilgpt2" TrainFile="data/train.txt" LearningRate="0.0003" />""",
            config: """
            using Lm.Runtime.Configuration;

            namespace App;

            [FineTuneJob("wiki-gpt2")]
            [Training(NumTrainEpochs = 2, EvalStrategy = "epoch")]
            public partial class WikiGpt2
            {
            }
            """);
        var (exitCode, output) = Build();
        Assert.True(exitCode == 0, output);
        Assert.DoesNotMatch(@"warning [A-Z]+\d+", output);

        // The generated class in the built app: class values plus the item's, HF defaults elsewhere.
        var assembly = System.Reflection.Assembly.LoadFile(Path.Combine(_folder, "bin", "App.dll"));
        var training = (Lm.Runtime.Training.TrainingArguments)assembly.GetType("App.WikiGpt2")!.GetProperty("TrainingArguments")!.GetValue(null)!;
        Assert.Equal(0.0003, training.LearningRate);
        Assert.Equal(2.0, training.NumTrainEpochs);
        Assert.Equal(8, training.PerDeviceTrainBatchSize);
    }

    /// <summary>
    /// A project that references the Lm.Runtime and Lm.Generators assemblies next to this test, and passes its items
    /// to the compiler as Lm.Build does.
    /// </summary>
    private void WriteProject(string item, string config)
    {
        string bin = AppContext.BaseDirectory;
        string visibleMetadata = string.Join("\n    ",
            new[] { "Identity", "Config", "Model", "TrainFile", "ValidationFile", "LearningRate", "NumTrainEpochs", "EvalStrategy" }
                .Select(name => $"<CompilerVisibleItemMetadata Include=\"LanguageModelFineTune\" MetadataName=\"{name}\" />"));
        Directory.CreateDirectory(_folder);
        File.WriteAllText(Path.Combine(_folder, "App.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                <OutDir>bin/</OutDir>
              </PropertyGroup>
              <ItemGroup>
                <Reference Include="{Path.Combine(bin, "Lm.Runtime.dll")}" />
                <Analyzer Include="{Path.Combine(bin, "Lm.Generators.dll")}" />
              </ItemGroup>
              <ItemGroup>
                {item}
              </ItemGroup>
              <ItemGroup>
                <AdditionalFiles Include="@(LanguageModelFineTune)" />
                {visibleMetadata}
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(_folder, "Config.cs"), config);
    }

    private (int ExitCode, string Output) Build()
    {
        var start = new ProcessStartInfo("dotnet", "build -nologo -v:q -p:UseSharedCompilation=false")
        {
            WorkingDirectory = _folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["MSBUILDNODEREUSE"] = "0";
        return ChildProcess.Run(start, TimeSpan.FromMinutes(5));
    }
}
