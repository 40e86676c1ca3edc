using System.Reflection;
using System.Text.Json.Nodes;
using Lm.Runtime.Jobs;

namespace Lm.Generators.Tests.Emitting;

/// <summary><c>[Lora]</c> on a chat job: its values reach the typed job and the assembly attribute the build reads.</summary>
public class LoraAttributeEmitterTests
{
    private const string ChatLora = """
        using Lm.Runtime.Configuration;

        namespace Sample;

        [FineTuneJob("chat-lora", Model = "tiny-llama")]
        [ChatDataset(TrainFile = "data/chat.jsonl", AssistantOnlyLoss = true)]
        [Lora(R = 8, Alpha = 16, Dropout = 0.1, TargetModules = "q_proj,v_proj", ModulesToSave = "lm_head", UseRslora = true)]
        [Training(MaxSteps = 4, LearningRate = 1e-3)]
        public partial class ChatLora
        {
        }
        """;

    [Fact]
    public void Lora_job_generates_model_arguments_with_use_peft()
    {
        var run = GeneratorHarness.Run(ChatLora);
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Empty(run.CompileErrors);
        Snapshot.Match(run.SourceOf("Sample.ChatLora.FineTuneJob.g.cs"), "ChatLora");
    }

    [Fact]
    public void Typed_lora_job_equals_what_the_command_line_resolves_from_TRL_flags()
    {
        var run = GeneratorHarness.Run(ChatLora);
        Assembly assembly = GeneratorHarness.Load(run.Output);
        var typed = (FineTuneJob)assembly.GetType("Sample.ChatLora")!.GetMethod("CreateJob")!.Invoke(null, null)!;

        // TRL's ModelConfig flags, converted the way the CLI converts flag text.
        var flags = new (string Flag, string Value)[]
        {
            ("--model-name-or-path", "tiny-llama"), ("--use-peft", "true"), ("--lora-r", "8"), ("--lora-alpha", "16"),
            ("--lora-dropout", "0.1"), ("--lora-target-modules", "q_proj,v_proj"), ("--lora-modules-to-save", "lm_head"),
            ("--use-rslora", "true"), ("--train-file", "data/chat.jsonl"), ("--assistant-only-loss", "true"),
            ("--max-steps", "4"), ("--learning-rate", "1e-3"),
        };
        var json = new JsonObject();
        foreach (var (flag, value) in flags)
        {
            var field = FineTuneJob.FindField(flag)!;
            json[field.Name] = field.ParseText(value);
        }
        Assert.Equal(FineTuneJob.FromJson(json).ToJson(), typed.ToJson());
        Assert.True(typed.Model.UsePeft);
        Assert.Equal(8, typed.Model.LoraR);
        Assert.Equal(16.0, typed.Model.LoraAlpha);
        Assert.Equal(0.1, typed.Model.LoraDropout);
        Assert.Equal("q_proj,v_proj", typed.Model.LoraTargetModules);
        Assert.Equal("lm_head", typed.Model.LoraModulesToSave);
        Assert.True(typed.Model.UseRslora);

        // The build's fine-tune step reads the class's values from this attribute: use_peft is among them.
        var attribute = assembly.GetCustomAttributes<FineTuneJobConfigurationAttribute>().Single();
        Assert.Equal(
            """{"model_name_or_path":"tiny-llama","use_peft":true,"lora_r":8,"lora_alpha":16,"lora_dropout":0.1,"lora_target_modules":"q_proj,v_proj","lora_modules_to_save":"lm_head","use_rslora":true,"train_file":"data/chat.jsonl","assistant_only_loss":true,"learning_rate":0.001,"max_steps":4}""",
            attribute.Json);
    }

    [Fact]
    public void Bare_Lora_attribute_turns_peft_on_with_TRL_defaults()
    {
        var run = GeneratorHarness.Run("""
            using Lm.Runtime.Configuration;
            [FineTuneJob("j", Model = "tiny-llama")]
            [Lora]
            partial class C { }
            """);
        Assert.Empty(run.GeneratorDiagnostics);
        var typed = (FineTuneJob)GeneratorHarness.Load(run.Output).GetType("C")!.GetMethod("CreateJob")!.Invoke(null, null)!;
        Assert.True(typed.Model.UsePeft);
        Assert.Equal(16, typed.Model.LoraR);
        Assert.Equal(32.0, typed.Model.LoraAlpha);
        Assert.Equal(0.05, typed.Model.LoraDropout);
        Assert.Null(typed.Model.LoraTargetModules);
    }

    /// <summary>
    /// docs/lora.md's [Lora] example is the sample's chat job, word for word (so the sample's build test trains it), and
    /// generates without diagnostics; README's one-line [Lora] does too.
    /// </summary>
    [Fact]
    public void Docs_Lora_examples_are_the_sample_job_and_generate_cleanly()
    {
        string docs = File.ReadAllText(Path.Combine(Repository.Root, "docs", "lora.md")).Replace("\r\n", "\n");
        string section = docs[docs.IndexOf("## Typed config and the build", StringComparison.Ordinal)..];
        int start = section.IndexOf("```csharp\n", StringComparison.Ordinal) + "```csharp\n".Length;
        string example = section[start..section.IndexOf("```", start, StringComparison.Ordinal)];
        string declaration = example[..example.IndexOf("// in the app", StringComparison.Ordinal)].Trim();
        string sample = File.ReadAllText(Path.Combine(Repository.Root, "sample-project", "Jobs", "ChatLlama.cs")).Replace("\r\n", "\n");
        Assert.Contains(declaration, sample);

        var run = GeneratorHarness.Run("using Lm.Runtime.Configuration;\n" + declaration);
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Empty(run.CompileErrors);

        string readme = File.ReadAllText(Path.Combine(Repository.Root, "README.md"));
        const string readmeLora = "[Lora(R = 8, Alpha = 16, TargetModules = \"all-linear\")]";
        Assert.Contains(readmeLora, readme);
        var readmeRun = GeneratorHarness.Run("using Lm.Runtime.Configuration;\n[FineTuneJob(\"j\", Model = \"tiny-llama\")]\n"
            + "[ChatDataset(TrainFile = \"data/chat.jsonl\")]\n" + readmeLora + "\npartial class C { }");
        Assert.Empty(readmeRun.GeneratorDiagnostics);
    }
}
