using System.Text.Json.Nodes;
using Lm.Tasks.Jobs;

namespace Lm.Tasks.Tests.Jobs;

/// <summary>The launcher metadata of items (Launcher, ExportDir, ResultDir, NumProcesses, NumMachines, Fsdp, Deepspeed).</summary>
public sealed class LaunchSettingsTests : IDisposable
{
    private readonly string _project = Directory.CreateTempSubdirectory("lm-launch-").FullName;

    public LaunchSettingsTests()
    {
        File.WriteAllText(Path.Combine(_project, "train.txt"), "some text\n");
        File.WriteAllText(ProjectFile, """
            <Project>
              <ItemGroup>
                <LanguageModelFineTune Include="job" Model="tiny-gpt2" TrainFile="train.txt"
                                       Launcher="exort" />
              </ItemGroup>
            </Project>
            """);
    }

    private string ProjectFile => Path.Combine(_project, "app.csproj");

    public void Dispose() => Directory.Delete(_project, recursive: true);

    private JobResolver Resolver(string defaultLauncher = "", params CompiledJobConfiguration[] configurations) =>
        new(_project, Path.Combine(_project, "obj", "lm"), [Path.Combine(_project, "obj"), Path.Combine(_project, "bin")],
            configurations, ["Wiki", "Program"], "cpu", defaultLauncher);

    private JobItem Item(params (string Name, string Value)[] metadata) =>
        new("job", new[] { ("Model", "tiny-gpt2"), ("TrainFile", "train.txt") }.Concat(metadata)
            .ToDictionary(m => m.Item1, m => m.Item2, StringComparer.OrdinalIgnoreCase), ProjectFile);

    [Fact]
    public void Export_settings_become_the_export_commands_flags_and_stay_out_of_the_job_file()
    {
        var resolver = Resolver();
        var job = Assert.Single(resolver.Resolve([Item(("Launcher", "Export"), ("NumProcesses", "8"), ("NumMachines", "2"), ("Fsdp", "true"))]));
        Assert.Empty(resolver.Diagnostics);
        Assert.Equal("export", job.Launch.Launcher);
        Assert.Equal(["--num-processes", "8", "--num-machines", "2", "--fsdp"], job.Launch.ExportArguments());
        Assert.Equal(Path.Combine(_project, "obj", "lm", "job.export") + Path.DirectorySeparatorChar, job.Launch.ExportDir);
        Assert.Equal(Path.Combine(job.Launch.ExportDir, ".lm-complete"), job.StampFile);
        var json = JsonNode.Parse(job.JobJson)!.AsObject();
        foreach (string key in new[] { "launcher", "num_processes", "fsdp", "Launcher", "NumProcesses", "Fsdp" })
            Assert.False(json.ContainsKey(key), key);
    }

    [Fact]
    public void LmLauncher_applies_to_items_that_set_none_and_the_default_is_train()
    {
        var exported = Resolver("export");
        Assert.Equal("export", Assert.Single(exported.Resolve([Item()])).Launch.Launcher);
        var trained = Resolver();
        var job = Assert.Single(trained.Resolve([Item(("ExportDir", "out/export"))]));
        Assert.Equal("train", job.Launch.Launcher);
        Assert.Equal(Path.Combine(job.OutputDir, ".lm-complete"), job.StampFile);
        Assert.Equal(Path.Combine(_project, "out", "export") + Path.DirectorySeparatorChar, job.Launch.ExportDir);
    }

    [Fact]
    public void An_unknown_launcher_is_LM2080_at_its_metadata_with_the_nearest()
    {
        var resolver = Resolver();
        Assert.Empty(resolver.Resolve([Item(("Launcher", "exort"))]));
        var error = Assert.Single(resolver.Diagnostics);
        Assert.Equal("LM2080", error.Code);
        Assert.Contains("did you mean 'export'?", error.Message);
        Assert.Equal(4, error.Location.Line);
    }

    [Theory]
    [InlineData("NumProcesses", "0", "NumProcesses must be a whole number of at least 1, got '0'")]
    [InlineData("NumMachines", "two", "NumMachines must be a whole number of at least 1, got 'two'")]
    [InlineData("Deepspeed", "zero1", "Deepspeed must be zero2 or zero3")]
    [InlineData("Fsdp", "yes", "Fsdp must be true or false, got 'yes'")]
    public void Distributed_settings_out_of_range_are_LM2082(string name, string value, string message)
    {
        var resolver = Resolver();
        Assert.Empty(resolver.Resolve([Item(("Launcher", "export"), (name, value))]));
        var error = Assert.Single(resolver.Diagnostics);
        Assert.Equal("LM2082", error.Code);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void Fsdp_with_deepspeed_and_ResultDir_with_export_are_LM2082()
    {
        Directory.CreateDirectory(Path.Combine(_project, "result"));
        var resolver = Resolver();
        Assert.Empty(resolver.Resolve([Item(("Fsdp", "true"), ("Deepspeed", "zero3"))]));
        Assert.Contains("Fsdp and Deepspeed", Assert.Single(resolver.Diagnostics, d => d.Code == "LM2082").Message);
        var both = Resolver();
        Assert.Empty(both.Resolve([Item(("Launcher", "export"), ("ResultDir", "result"))]));
        Assert.Contains("set one of them", Assert.Single(both.Diagnostics, d => d.Code == "LM2082").Message);
    }

    [Fact]
    public void A_ResultDir_inside_the_jobs_OutputDir_is_LM2007_as_the_build_would_empty_it_first()
    {
        Directory.CreateDirectory(Path.Combine(_project, "obj", "out", "run1"));
        var resolver = Resolver();
        Assert.Empty(resolver.Resolve([Item(("OutputDir", "obj/out"), ("ResultDir", "obj/out/run1"))]));
        var error = Assert.Single(resolver.Diagnostics);
        Assert.Equal("LM2007", error.Code);
        Assert.Contains("ResultDir", error.Message);
        Assert.True(Directory.Exists(Path.Combine(_project, "obj", "out", "run1")));
    }

    [Fact]
    public void A_missing_ResultDir_is_LM2081_naming_the_folder()
    {
        var resolver = Resolver();
        Assert.Empty(resolver.Resolve([Item(("ResultDir", "elsewhere/run1"))]));
        var error = Assert.Single(resolver.Diagnostics);
        Assert.Equal("LM2081", error.Code);
        Assert.Contains(Path.Combine(_project, "elsewhere", "run1"), error.Message);
    }

    [Fact]
    public void A_config_classes_distributed_settings_merge_with_the_items_by_the_one_rule()
    {
        var configuration = new CompiledJobConfiguration("job",
            """{"model_name_or_path":"tiny-gpt2","launch":{"launcher":"export","num_processes":8,"fsdp":true}}""", "App.Wiki");
        var resolver = Resolver("", configuration);
        var job = Assert.Single(resolver.Resolve([Item(("NumMachines", "2"), ("NumProcesses", "8"))]));
        Assert.Empty(resolver.Diagnostics);
        Assert.Equal(["--num-processes", "8", "--num-machines", "2", "--fsdp"], job.Launch.ExportArguments());
        Assert.False(JsonNode.Parse(job.JobJson)!.AsObject().ContainsKey("launch"));

        var conflicting = Resolver("", configuration);
        Assert.Empty(conflicting.Resolve([Item(("NumProcesses", "4"))]));
        var error = Assert.Single(conflicting.Diagnostics);
        Assert.Equal("LM1009", error.Code);
        Assert.Contains("NumProcesses '4' disagrees with '8'", error.Message);
    }
}
