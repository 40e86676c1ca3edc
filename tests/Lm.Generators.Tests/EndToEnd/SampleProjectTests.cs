using System.Diagnostics;
using System.Xml.Linq;
using Microsoft.CodeAnalysis;

namespace Lm.Generators.Tests.EndToEnd;

/// <summary>
/// The repository's sample project: its config classes and items generate cleanly, and a deliberate error
/// (<c>LearningRate = -1</c>) is a compile error at that argument, in the generator and in a real <c>dotnet build</c>.
/// </summary>
public class SampleProjectTests : IDisposable
{
    private const string GoodValue = "LearningRate = 1e-3";
    private const string BadValue = "LearningRate = -1";

    private static readonly string Sample = Path.Combine(Repository.Root, "sample-project");
    private readonly string _copy = Path.Combine(Repository.Root, ".lm-sample-check-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_copy)) Directory.Delete(_copy, recursive: true);
    }

    [Fact]
    public void Sample_jobs_generate_without_diagnostics_and_compile()
    {
        var run = GeneratorHarness.Run(JobSources().Values.ToArray(), SampleItems());
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Empty(run.CompileErrors);
    }

    [Fact]
    public void Negative_learning_rate_in_the_sample_is_LM1001_at_its_argument()
    {
        var sources = JobSources();
        string file = sources.Keys.Single(k => sources[k].Contains(GoodValue, StringComparison.Ordinal) && k.EndsWith("WikiGpt2.cs", StringComparison.Ordinal));
        string broken = sources[file].Replace(GoodValue, BadValue);
        var run = GeneratorHarness.Run(sources.Select(s => s.Key == file ? broken : s.Value).ToArray(), SampleItems());

        var diagnostic = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("LM1001", diagnostic.Id);
        var (line, column) = PositionOf(broken, BadValue);
        var span = diagnostic.Location.GetLineSpan().StartLinePosition;
        Assert.Equal((line, column), (span.Line + 1, span.Character + 1));
    }

    /// <summary>The manual check, automated: copy the sample beside it, break it, and <c>dotnet build</c> it.</summary>
    [Fact]
    [Trait("Category", "Slow")]
    public void Negative_learning_rate_fails_dotnet_build_of_the_sample_at_that_line()
    {
        CopySample();
        string jobFile = Path.Combine(_copy, "Jobs", "WikiGpt2.cs");
        string broken = File.ReadAllText(jobFile).Replace(GoodValue, BadValue);
        File.WriteAllText(jobFile, broken);

        var (exitCode, output) = DotnetBuild(Path.Combine(_copy, "sample-project.csproj"));
        var (line, column) = PositionOf(broken, BadValue);
        Assert.NotEqual(0, exitCode);
        Assert.Contains($"WikiGpt2.cs({line},{column}): error LM1001: LearningRate (learning_rate) must be positive, got -1", output);
    }

    /// <summary>
    /// The sample's Llama job, built for real: a copy of the sample that keeps only the wiki-llama item and class
    /// (the other jobs are minutes of training; a class without its item is LM1008), fine-tuned by
    /// <c>dotnet build</c>, its model, tokenizer and metrics copied next to the app.
    /// </summary>
    [Fact]
    [Trait("Category", "Slow")]
    public void Llama_job_of_the_sample_trains_in_dotnet_build()
    {
        CopySample();
        string project = Path.Combine(_copy, "sample-project.csproj");
        var document = XDocument.Load(project);
        document.Descendants("LanguageModelFineTune").Where(item => item.Attribute("Include")!.Value != "wiki-llama").Remove();
        document.Save(project);
        File.Delete(Path.Combine(_copy, "Jobs", "WikiGpt2.cs"));
        File.Delete(Path.Combine(_copy, "Jobs", "WikiRoberta.cs"));
        File.WriteAllText(Path.Combine(_copy, "Program.cs"), "return SampleProject.Jobs.WikiLlama.Artifacts.IsTrained ? 0 : 1;\n");

        var (exitCode, output) = DotnetBuild(project, fineTune: true);
        Assert.True(exitCode == 0, output);

#if DEBUG
        const string configuration = "Debug";
#else
        const string configuration = "Release";
#endif
        string job = Path.Combine(_copy, "bin", configuration, "net10.0", "wiki-llama");
        string[] files = Directory.GetFiles(job).Select(Path.GetFileName).OfType<string>().ToArray();
        Assert.Subset(files.ToHashSet(), new HashSet<string>
        {
            "config.json", "generation_config.json", "model.safetensors", "all_results.json", "train_results.json",
            "eval_results.json", "trainer_state.json", "tokenizer_config.json",
        });
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(job, "config.json")))!;
        Assert.Equal("llama", config["model_type"]!.GetValue<string>());
        Assert.Equal("LlamaForCausalLM", config["architectures"]![0]!.GetValue<string>());
        var state = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(job, "trainer_state.json")))!;
        Assert.Equal(10, state["global_step"]!.GetValue<int>());
        double[] losses = state["log_history"]!.AsArray().Where(e => e!["loss"] is not null).Select(e => e!["loss"]!.GetValue<double>()).ToArray();
        Assert.Equal(2, losses.Length);
        var metrics = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(job, "all_results.json")))!;
        double evalLoss = metrics["eval_loss"]!.GetValue<double>();

        // From ln(50257) ≈ 10.8 for a random model; ten steps at 1e-3 lower the training loss and the held-out loss.
        Assert.InRange(losses[0], 9.0, 11.5);
        Assert.True(losses[1] < losses[0], string.Join(", ", losses));
        Assert.InRange(evalLoss, 1.0, Math.Log(50257));
        Assert.Equal(Math.Exp(evalLoss), metrics["perplexity"]!.GetValue<double>(), 6);
        Assert.Equal(64, metrics["train_samples"]!.GetValue<int>());
        Assert.Equal(16, metrics["eval_samples"]!.GetValue<int>());
    }

    private void CopySample()
    {
        foreach (string path in Directory.GetFiles(Sample, "*", SearchOption.AllDirectories)
                     .Where(p => !p.Contains("/bin/", StringComparison.Ordinal) && !p.Contains("/obj/", StringComparison.Ordinal)))
        {
            string target = Path.Combine(_copy, Path.GetRelativePath(Sample, path));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(path, target);
        }
    }

    private static Dictionary<string, string> JobSources() =>
        Directory.GetFiles(Path.Combine(Sample, "Jobs"), "*.cs").Order().ToDictionary(p => p, File.ReadAllText);

    /// <summary>The sample's &lt;LanguageModelFineTune&gt; items with the metadata they set.</summary>
    private static TestItem[] SampleItems() =>
        XDocument.Load(Path.Combine(Sample, "sample-project.csproj")).Descendants("LanguageModelFineTune")
            .Select(item => new TestItem(item.Attribute("Include")!.Value,
                item.Attributes().Where(a => a.Name != "Include").Select(a => (a.Name.LocalName, a.Value)).ToArray()))
            .ToArray();

    private static (int Line, int Column) PositionOf(string text, string value)
    {
        int index = text.IndexOf(value, StringComparison.Ordinal);
        int line = text[..index].Count(c => c == '\n') + 1;
        int column = index - (text.LastIndexOf('\n', index - 1) + 1) + 1;
        return (line, column);
    }

    private static (int ExitCode, string Output) DotnetBuild(string project, bool fineTune = false)
    {
#if DEBUG
        const string configuration = "Debug";
#else
        const string configuration = "Release";
#endif
        // The copy builds into its own bin/ and obj/ only. Its ProjectReferences (../src/...) are resolved to the outputs
        // the solution build already made (this test project references them, so they exist before any test runs) and
        // are never built again, and restore writes the copy's obj/ alone. Building them from here raced the solution
        // build over src/*/bin and obj, and could rewrite the lm-tune files Lm.Tool.Tests run at that moment (the
        // suspected cause of a `lm-tune doctor` child dying of SIGBUS in a full run).
        var start = new ProcessStartInfo("dotnet", $"build \"{project}\" -c {configuration} -nologo -v:m -p:LmSkipFineTune={(fineTune ? "false" : "true")} "
            + "-p:BuildProjectReferences=false -p:RestoreRecursive=false")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["MSBUILDNODEREUSE"] = "0";
        // The fine-tune step's lm-tune caches its tokens and patched native bridge in the copy, not in the user's cache
        // that other test projects running at the same time use too.
        string obj = Path.Combine(Path.GetDirectoryName(project)!, "obj");
        start.Environment["LM_TUNE_CACHE"] = Path.Combine(obj, "lm-tune-cache");
        start.Environment["HF_HOME"] = Path.Combine(obj, "hf-home");
        var (exitCode, output) = ChildProcess.Run(start, TimeSpan.FromMinutes(10));
        // Every project a build builds prints "Name -> its output" at this verbosity: the copy may, src/'s projects not.
        Assert.DoesNotMatch(@"(?m)^\s*Lm\.[\w.]+ -> ", output);
        return (exitCode, output);
    }
}
