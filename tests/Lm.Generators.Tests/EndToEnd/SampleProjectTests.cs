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
        File.Delete(Path.Combine(_copy, "Jobs", "ChatLlama.cs"));
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

    /// <summary>
    /// The sample's chat LoRA job ([ChatDataset] + [Lora] on tiny-llama), built for real in a copy that keeps only it:
    /// the output holds PEFT's adapter files (no full model), with the keys and shapes PEFT writes for rank-8 adapters on
    /// every linear layer of a 2-layer Llama, and the app's generated <c>ChatLlama.Artifacts.LoadModel()</c> returns the
    /// run's base with the trained adapter applied: its logits differ from the base's, and equal them exactly once
    /// every <c>lora_B</c> is zeroed (so the base was rebuilt as the run drew it, from the preset and seed 42).
    /// </summary>
    [Fact]
    [Trait("Category", "Slow")]
    public void Chat_lora_job_of_the_sample_trains_an_adapter_that_the_app_loads_on_its_base()
    {
        CopySample();
        string project = Path.Combine(_copy, "sample-project.csproj");
        var document = XDocument.Load(project);
        document.Descendants("LanguageModelFineTune").Where(item => item.Attribute("Include")!.Value != "chat-llama").Remove();
        document.Save(project);
        foreach (string other in new[] { "WikiGpt2.cs", "WikiRoberta.cs", "WikiLlama.cs" }) File.Delete(Path.Combine(_copy, "Jobs", other));
        File.WriteAllText(Path.Combine(_copy, "Program.cs"), AdapterCheckProgram);

        var (exitCode, output) = DotnetBuild(project, fineTune: true);
        Assert.True(exitCode == 0, output);

#if DEBUG
        const string configuration = "Debug";
#else
        const string configuration = "Release";
#endif
        string bin = Path.Combine(_copy, "bin", configuration, "net10.0");
        string job = Path.Combine(bin, "chat-llama");
        string[] files = Directory.GetFiles(job).Select(Path.GetFileName).OfType<string>().ToArray();
        Assert.Subset(files.ToHashSet(), new HashSet<string>
        {
            "adapter_config.json", "adapter_model.safetensors", "all_results.json", "trainer_state.json", "tokenizer_config.json",
        });
        Assert.DoesNotContain("model.safetensors", files);

        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(job, "adapter_config.json")))!;
        Assert.Equal("LORA", config["peft_type"]!.GetValue<string>());
        Assert.Equal("CAUSAL_LM", config["task_type"]!.GetValue<string>());
        Assert.Equal(8, config["r"]!.GetValue<int>());
        Assert.Equal(16, config["lora_alpha"]!.GetValue<int>());
        Assert.Equal(0.05, config["lora_dropout"]!.GetValue<double>());
        Assert.Equal("none", config["bias"]!.GetValue<string>());
        Assert.False(config["use_rslora"]!.GetValue<bool>());
        Assert.False(config["fan_in_fan_out"]!.GetValue<bool>());
        Assert.True(config["inference_mode"]!.GetValue<bool>());
        Assert.Equal("tiny-llama", config["base_model_name_or_path"]!.GetValue<string>());

        // PEFT's keys (no adapter name) and shapes: lora_A [r, in], lora_B [out, r]; tiny-llama is 64 wide, MLP 128,
        // 4 query heads and 2 key/value heads of 16.
        var expected = new SortedDictionary<string, long[]>(StringComparer.Ordinal);
        var linears = new (string Name, long In, long Out)[]
        {
            ("self_attn.q_proj", 64, 64), ("self_attn.k_proj", 64, 32), ("self_attn.v_proj", 64, 32), ("self_attn.o_proj", 64, 64),
            ("mlp.gate_proj", 64, 128), ("mlp.up_proj", 64, 128), ("mlp.down_proj", 128, 64),
        };
        for (int layer = 0; layer < 2; layer++)
        {
            foreach (var (name, inFeatures, outFeatures) in linears)
            {
                expected[$"base_model.model.model.layers.{layer}.{name}.lora_A.weight"] = [8, inFeatures];
                expected[$"base_model.model.model.layers.{layer}.{name}.lora_B.weight"] = [outFeatures, 8];
            }
        }
        // all-linear as PEFT saves it after injection (_maybe_include_all_linear_layers): the matched modules' full names.
        Assert.Equal(
            expected.Keys.Where(k => k.EndsWith(".lora_A.weight", StringComparison.Ordinal))
                .Select(k => k["base_model.model.".Length..^".lora_A.weight".Length]).Order(StringComparer.Ordinal),
            config["target_modules"]!.AsArray().Select(n => n!.GetValue<string>()));
        var header = SafetensorsHeader(Path.Combine(job, "adapter_model.safetensors"));
        Assert.Equal(expected.Keys, header.Select(p => p.Key).Where(k => k != "__metadata__").Order(StringComparer.Ordinal));
        foreach (var (key, shape) in expected)
        {
            Assert.Equal("F32", header[key]!["dtype"]!.GetValue<string>());
            Assert.Equal(shape, header[key]!["shape"]!.AsArray().Select(d => d!.GetValue<long>()));
        }

        // The chat template the job trained with is saved with the tokenizer, for generate --chat and the app.
        var tokenizerConfig = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(job, "tokenizer_config.json")))!;
        Assert.Equal(File.ReadAllText(Path.Combine(Sample, "data", "chat_template.jinja")), tokenizerConfig["chat_template"]!.GetValue<string>());
        var state = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(job, "trainer_state.json")))!;
        Assert.Equal(4, state["global_step"]!.GetValue<int>());
        var metrics = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(job, "all_results.json")))!;
        Assert.InRange(metrics["eval_loss"]!.GetValue<double>(), 1.0, 12.0);

        var app = new ProcessStartInfo("dotnet", $"\"{Path.Combine(bin, "sample-project.dll")}\"") { RedirectStandardOutput = true, RedirectStandardError = true };
        var (appExit, appOutput) = ChildProcess.Run(app, TimeSpan.FromMinutes(2));
        Assert.True(appExit == 0, appOutput);
        string line = appOutput.Split('\n').Single(l => l.StartsWith("lora_layers=", StringComparison.Ordinal)).Trim();
        var values = line.Split(' ').Select(part => part.Split('=')).ToDictionary(p => p[0], p => p[1]);
        Assert.Equal("14", values["lora_layers"]);
        Assert.True(double.Parse(values["adapter_diff"], System.Globalization.CultureInfo.InvariantCulture) > 1e-6, appOutput);
        Assert.Equal("0", values["zeroed_diff"]);
    }

    /// <summary>The copy's Program.cs: the generated accessor's model against the preset base drawn with the run's seed.</summary>
    private const string AdapterCheckProgram = """
        using Lm.Runtime.Models;
        using TorchSharp;

        var job = SampleProject.Jobs.ChatLlama.Artifacts;
        if (!job.IsAdapter) return 2;
        using var adapted = job.LoadModel();
        using var noGrad = torch.no_grad();
        using var baseModel = ModelPresets.Create("tiny-llama", 42);
        baseModel.eval();
        using var ids = torch.tensor(new long[] { 27, 91, 7220, 91, 29, 198, 2061, 318, 362, 5556 }).unsqueeze(0);
        using var plain = baseModel.Forward(ids).Logits;
        using var withAdapter = adapted.Forward(ids).Logits;
        double adapterDiff = (withAdapter - plain).abs().max().item<float>();
        int loraLayers = 0;
        foreach (var (name, parameter) in adapted.named_parameters())
        {
            if (!name.EndsWith("lora_B.weight", StringComparison.Ordinal)) continue;
            parameter.zero_();
            loraLayers++;
        }
        using var zeroed = adapted.Forward(ids).Logits;
        double zeroedDiff = (zeroed - plain).abs().max().item<float>();
        Console.WriteLine(FormattableString.Invariant($"lora_layers={loraLayers} adapter_diff={adapterDiff:R} zeroed_diff={zeroedDiff:R}"));
        return 0;
        """;

    /// <summary>A safetensors file's JSON header (8-byte little-endian length, then the JSON), read by hand.</summary>
    private static System.Text.Json.Nodes.JsonObject SafetensorsHeader(string path)
    {
        using var stream = File.OpenRead(path);
        var lengthBytes = new byte[8];
        stream.ReadExactly(lengthBytes);
        var json = new byte[BitConverter.ToUInt64(lengthBytes)];
        stream.ReadExactly(json);
        return System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();
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
