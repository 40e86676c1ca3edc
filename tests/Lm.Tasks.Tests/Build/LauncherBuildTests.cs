using System.Diagnostics;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace Lm.Tasks.Tests.Build;

/// <summary>
/// The build's launchers with the real lm-tune (docs/scale-out.md): <c>Launcher="export"</c> writes the export folder
/// and trains nothing; <c>ResultDir</c> adopts a run made elsewhere (here: by lm-tune itself, in Hugging Face's
/// output layout) and trains nothing.
/// </summary>
[Collection(BuildCollection.Name)]
[Trait("Category", "Slow")]
public sealed class LauncherBuildTests(ITestOutputHelper output)
{
    private static readonly string Data = Path.Combine(RepoRoot.Path, "data", "wikitext-2-raw", "sample");

    private static string Tool
    {
        get
        {
            string configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;
            string tool = Path.Combine(RepoRoot.Path, "src", "Lm.Tool", "bin", configuration, "net10.0", "lm-tune.dll");
            Assert.True(File.Exists(tool), $"{tool} is built with this test project");
            return tool;
        }
    }

    private static TempProject Project(string metadata, string program = "System.Console.WriteLine(\"app ran\");\n")
    {
        var project = new TempProject($"""
            <LanguageModelFineTune Include="tiny" Model="tiny-gpt2" Device="cpu" {metadata}
                                   TrainFile="{Data}/train.txt" ValidationFile="{Data}/validation.txt"
                                   MaxTrainSamples="16" MaxEvalSamples="4" BlockSize="32" MaxSteps="3"
                                   PerDeviceTrainBatchSize="2" PerDeviceEvalBatchSize="2" LoggingSteps="1" />
            """, program: program);
        project.EditProject($"<LmToolPath>{FakeTool.FileName}</LmToolPath>", $"<LmToolPath>{Tool}</LmToolPath>");
        return project;
    }

    [Fact]
    public void Export_launcher_writes_the_export_folder_trains_nothing_and_is_incremental()
    {
        using var project = Project("""Launcher="export" NumProcesses="8" Fsdp="true" """);
        var first = project.Build("-v:n");
        output.WriteLine(first.ToString());
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Contains("tiny: exported -> ", first.Output);
        Assert.DoesNotContain("fine-tuned in", first.Output);
        string export = project.PathOf("obj/lm/tiny.export");
        Assert.False(File.Exists(project.PathOf("obj/lm/tiny/model.safetensors")));

        var arguments = JsonNode.Parse(File.ReadAllText(Path.Combine(export, "training_args.json")))!.AsObject();
        // A preset starts from random weights: the Python stack initialises from the config lm-tune wrote (run_clm.py's config_name).
        Assert.False(arguments.ContainsKey("model_name_or_path"));
        Assert.True(File.Exists(Path.Combine(export, (string)arguments["config_name"]!, "config.json")));
        Assert.Equal(3, (int)arguments["max_steps"]!);
        Assert.Equal(32, (int)arguments["block_size"]!);
        Assert.Equal("full_shard auto_wrap", (string?)arguments["fsdp"]);
        string launch = File.ReadAllText(Path.Combine(export, "launch.sh"));
        Assert.Contains("NUM_PROCESSES=\"${NUM_PROCESSES:-8}\"", launch);
        Assert.Contains("NUM_MACHINES=\"${NUM_MACHINES:-1}\"", launch);
        Assert.Contains("num_processes: 8", File.ReadAllText(Path.Combine(export, "accelerate_config.yaml")));

        // Unchanged: MSBuild skips the target. A changed launch setting alone exports again, replacing the files.
        var second = project.Build("--no-restore", "-v:d");
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Contains("Skipping target \"LmFineTune\" because all output files are up-to-date", second.Output);
        project.EditProject("NumProcesses=\"8\"", "NumProcesses=\"4\"");
        var third = project.Build("--no-restore", "-v:n");
        Assert.True(third.ExitCode == 0, third.ToString());
        Assert.Contains("tiny: exported -> ", third.Output);
        Assert.Contains("NUM_PROCESSES=\"${NUM_PROCESSES:-4}\"", File.ReadAllText(Path.Combine(export, "launch.sh")));
        Assert.False(File.Exists(project.PathOf("obj/lm/tiny/model.safetensors")));

        // dotnet clean removes the files the export wrote (its stamp lists them), and with them the folder.
        var clean = project.Dotnet(["clean"]);
        Assert.True(clean.ExitCode == 0, clean.ToString());
        Assert.False(Directory.Exists(export));
    }

    [Fact]
    public void LmLauncher_export_exports_every_item_and_a_foreign_export_folder_is_LM2083()
    {
        using var project = Project("");
        Directory.CreateDirectory(project.PathOf("obj/lm/tiny.export"));
        File.WriteAllText(project.PathOf("obj/lm/tiny.export/notes.txt"), "mine\n");
        var refused = project.Build("-v:m", "-p:LmLauncher=export");
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains($"app.csproj({project.LineOf("Include=\"tiny\"")},", refused.Output);
        Assert.Contains("error LM2083", refused.Output);
        Assert.Equal("mine\n", File.ReadAllText(project.PathOf("obj/lm/tiny.export/notes.txt")));

        File.Delete(project.PathOf("obj/lm/tiny.export/notes.txt"));
        var exported = project.Build("--no-restore", "-v:n", "-p:LmLauncher=export");
        Assert.True(exported.ExitCode == 0, exported.ToString());
        Assert.True(File.Exists(project.PathOf("obj/lm/tiny.export/training_args.json")));
        Assert.False(Directory.Exists(project.PathOf("obj/lm/tiny")) && Directory.EnumerateFiles(project.PathOf("obj/lm/tiny"), "*.safetensors").Any());
    }

    [Fact]
    public void ResultDir_adopts_a_run_in_hugging_face_layout_without_training_and_its_artifacts_evaluate_the_same()
    {
        using var work = new TempDirectory();
        string elsewhere = Path.Combine(work.Path, "run-on-the-cluster");
        var trained = RunTool(work.Path, "train", "--model", "tiny-gpt2", "--device", "cpu", "--train-file", $"{Data}/train.txt",
            "--validation-file", $"{Data}/validation.txt", "--max-train-samples", "16", "--max-eval-samples", "4", "--block-size", "32",
            "--max-steps", "3", "--per-device-train-batch-size", "2", "--per-device-eval-batch-size", "2", "--do-eval",
            "--output-dir", elsewhere, "--json");
        double trainedEval = (double)trained["eval_loss"]!;

        // The app prints the folder its generated Artifacts accessor reads (the LmJobOutput assembly metadata).
        const string program = """
            var folder = System.Reflection.Assembly.GetEntryAssembly()!.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
                .Cast<System.Reflection.AssemblyMetadataAttribute>().Single(a => a.Key == "LmJobOutput:tiny").Value;
            System.Console.WriteLine("artifacts " + System.IO.Path.GetFullPath(folder!, System.AppContext.BaseDirectory));
            """;
        using var project = Project($"""ResultDir="{elsewhere}" CopyToOutputDirectory="PreserveNewest" """, program);
        var build = project.Build("-v:n");
        output.WriteLine(build.ToString());
        Assert.True(build.ExitCode == 0, build.ToString());
        Assert.Contains("tiny: adopting the run in", build.Output);
        Assert.DoesNotContain("fine-tuned in", build.Output);
        string outputDir = project.PathOf("obj/lm/tiny");
        Assert.Equal(File.ReadAllBytes(Path.Combine(elsewhere, "model.safetensors")), File.ReadAllBytes(Path.Combine(outputDir, "model.safetensors")));
        var results = JsonNode.Parse(File.ReadAllText(Path.Combine(outputDir, ".lm-complete")))!["results"]!;
        Assert.Equal(trainedEval, (double)results["eval_loss"]!);
        Assert.Equal(3, (int)results["global_step"]!);

        var run = project.Dotnet(["run", "--no-build"]);
        Assert.True(run.ExitCode == 0, run.ToString());
        string artifacts = run.Output.Split('\n').Single(l => l.StartsWith("artifacts ", StringComparison.Ordinal))["artifacts ".Length..].Trim();
        Assert.Equal(File.ReadAllBytes(Path.Combine(elsewhere, "model.safetensors")), File.ReadAllBytes(Path.Combine(artifacts, "model.safetensors")));
        var evaluated = RunTool(work.Path, "evaluate", "--model", artifacts, "--device", "cpu", "--validation-file", $"{Data}/validation.txt",
            "--max-eval-samples", "4", "--block-size", "32", "--per-device-eval-batch-size", "2", "--json");
        Assert.Equal(trainedEval, (double)evaluated["eval_loss"]!, 6);

        var second = project.Build("--no-restore", "-v:d");
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Contains("Skipping target \"LmFineTune\" because all output files are up-to-date", second.Output);

        // A broken result (its weights deleted) is lm-tune's error naming what is missing, reported at the item.
        File.Delete(Path.Combine(elsewhere, "model.safetensors"));
        var broken = project.Build("--no-restore", "-v:m");
        Assert.NotEqual(0, broken.ExitCode);
        Assert.Contains("error LM0107", broken.Output);
        Assert.Contains("model.safetensors", broken.Output);
        Assert.Contains($"app.csproj({project.LineOf("Include=\"tiny\"")},", broken.Output);

        // dotnet clean removes the adopted copy and the build's files for the job.
        var clean = project.Dotnet(["clean"]);
        Assert.True(clean.ExitCode == 0, clean.ToString());
        Assert.False(Directory.Exists(outputDir));
        Assert.False(File.Exists(project.PathOf("obj/lm/tiny.launch.txt")));
    }

    [Fact]
    public void Worked_example_of_the_scale_out_doc_exports_for_8_gpus_with_fsdp_and_takes_the_result_back()
    {
        // The doc's item and [Distributed] class as written, with a tiny model and the sample data in place of Qwen
        // and data/wiki.txt (a build that exports trains nothing, so only these differ).
        string doc = File.ReadAllText(Path.Combine(RepoRoot.Path, "docs", "scale-out.md"));
        string example = doc[doc.IndexOf("## Worked example", StringComparison.Ordinal)..];
        string item = Block(example, "```xml").Replace("<ItemGroup>", "").Replace("</ItemGroup>", "")
            .Replace("Model=\"Qwen/Qwen2.5-1.5B\"", "Model=\"tiny-gpt2\" Device=\"cpu\"")
            .Replace("TrainFile=\"data/wiki.txt\"", $"TrainFile=\"{Data}/train.txt\"");
        string configClass = Block(example, "```csharp");
        Assert.Contains("[Distributed(NumProcesses = 8, Fsdp = true)]", configClass);
        string bin = AppContext.BaseDirectory;
        string configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(bin)).Parent!.Name;
        string generator = Path.Combine(RepoRoot.Path, "src", "Lm.Generators", "bin", configuration, "netstandard2.0", "Lm.Generators.dll");
        using var project = new TempProject($"""
            {item}
            <Reference Include="{bin}Lm.Runtime.dll" Private="false" />
            <Reference Include="{bin}TorchSharp.dll" Private="false" />
            <Analyzer Include="{generator}" />
            """);
        project.EditProject($"<LmToolPath>{FakeTool.FileName}</LmToolPath>", $"<LmToolPath>{Tool}</LmToolPath>");
        File.WriteAllText(project.PathOf("WikiJob.cs"), configClass);

        // 1. The build exports for 8 processes with FSDP and trains nothing.
        var exported = project.Build("-v:n");
        output.WriteLine(exported.ToString());
        Assert.True(exported.ExitCode == 0, exported.ToString());
        string export = project.PathOf("obj/lm/wiki.export");
        var arguments = JsonNode.Parse(File.ReadAllText(Path.Combine(export, "training_args.json")))!.AsObject();
        Assert.Equal("full_shard auto_wrap", (string?)arguments["fsdp"]);
        Assert.True((bool)arguments["bf16"]!);
        Assert.Equal(2e-5, (double)arguments["learning_rate"]!);
        Assert.Equal(1024, (int)arguments["block_size"]!);
        Assert.Contains("NUM_PROCESSES=\"${NUM_PROCESSES:-8}\"", File.ReadAllText(Path.Combine(export, "launch.sh")));
        Assert.Contains("num_processes: 8", File.ReadAllText(Path.Combine(export, "accelerate_config.yaml")));
        Assert.False(File.Exists(project.PathOf("obj/lm/wiki/model.safetensors")));

        // 2-3. The cluster's run, stood in for by lm-tune writing the same Hugging Face layout into models/wiki.
        string models = project.PathOf("models/wiki");
        var trained = RunTool(project.Directory, "train", "--model", "tiny-gpt2", "--device", "cpu", "--train-file", $"{Data}/train.txt",
            "--validation-file", $"{Data}/validation.txt", "--max-train-samples", "8", "--max-eval-samples", "4", "--block-size", "32",
            "--max-steps", "2", "--per-device-train-batch-size", "2", "--do-eval", "--output-dir", models, "--json");

        // 4. ResultDir in place of Launcher="export": adopted, nothing trained, the Artifacts folder holds the run.
        project.EditProject("Launcher=\"export\"", "ResultDir=\"models/wiki\"");
        var adopted = project.Build("--no-restore", "-v:n");
        Assert.True(adopted.ExitCode == 0, adopted.ToString());
        Assert.Contains("wiki: adopting the run in", adopted.Output);
        Assert.DoesNotContain("fine-tuning with lm-tune", adopted.Output);
        Assert.Equal(File.ReadAllBytes(Path.Combine(models, "model.safetensors")), File.ReadAllBytes(project.PathOf("obj/lm/wiki/model.safetensors")));
        var results = JsonNode.Parse(File.ReadAllText(project.PathOf("obj/lm/wiki/.lm-complete")))!["results"]!;
        Assert.Equal((double)trained["eval_loss"]!, (double)results["eval_loss"]!);
    }

    /// <summary>The text of the first fenced block opened by <paramref name="fence"/>.</summary>
    private static string Block(string markdown, string fence)
    {
        int start = markdown.IndexOf(fence, StringComparison.Ordinal) + fence.Length;
        return markdown[start..markdown.IndexOf("```", start, StringComparison.Ordinal)].Trim();
    }

    private static JsonObject RunTool(string directory, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in new[] { Tool }.Concat(arguments)) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(3)) && process.ExitCode == 0, stdout + stderr.Result);
        return JsonNode.Parse(stdout)!.AsObject();
    }

    private sealed class TempDirectory : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("lm-launcher-").FullName;
        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
