using System.Text.Json.Nodes;
using Lm.Tasks.Jobs;

namespace Lm.Tasks.Tests.Jobs;

public sealed class JobResolverTests : IDisposable
{
    private readonly string _project = Directory.CreateTempSubdirectory("lm-resolver-").FullName;

    public JobResolverTests()
    {
        File.WriteAllText(Path.Combine(_project, "train.txt"), "some text\n");
        File.WriteAllText(Path.Combine(_project, "valid.txt"), "more text\n");
        File.WriteAllText(ProjectFile, """
            <Project>
              <ItemGroup>
                <LanguageModelFineTune Include="job" Model="tiny-gpt2" TrainFile="train.txt"
                                       LearningRate="fast" />
              </ItemGroup>
            </Project>
            """);
    }

    private string ProjectFile => Path.Combine(_project, "app.csproj");

    public void Dispose() => Directory.Delete(_project, recursive: true);

    private JobResolver Resolver(params CompiledJobConfiguration[] configurations) =>
        new(_project, Path.Combine(_project, "obj", "lm"), [Path.Combine(_project, "obj"), Path.Combine(_project, "bin")],
            configurations, ["WikiGpt2", "Program"], "cpu");

    private JobItem Item(string name, params (string Name, string Value)[] metadata) =>
        new(name, metadata.ToDictionary(m => m.Name, m => m.Value, StringComparer.OrdinalIgnoreCase), ProjectFile);

    [Fact]
    public void Item_metadata_fills_what_the_config_class_leaves_unset_and_paths_become_absolute()
    {
        var resolver = Resolver(new CompiledJobConfiguration("wiki", """{"learning_rate":3e-05,"block_size":128,"model_name_or_path":"tiny-gpt2"}""", "App.WikiGpt2"));
        var job = Assert.Single(resolver.Resolve([Item("wiki", ("Model", "tiny-gpt2"), ("TrainFile", "train.txt"),
            ("ValidationFile", "valid.txt"), ("Config", "WikiGpt2"), ("BlockSize", "128"), ("Seed", "7"), ("LearningRate", ""))]));
        Assert.Empty(resolver.Diagnostics);
        var json = JsonNode.Parse(job.JobJson)!.AsObject();
        Assert.Equal("tiny-gpt2", (string?)json["model_name_or_path"]);
        Assert.Equal(128, (int)json["block_size"]!);
        Assert.Equal(7, (int)json["seed"]!);
        Assert.Equal(3e-05, (double)json["learning_rate"]!);
        Assert.Equal(Path.Combine(_project, "train.txt"), (string?)json["train_file"]);
        Assert.Equal(Path.Combine(_project, "obj", "lm", "wiki") + Path.DirectorySeparatorChar, (string?)json["output_dir"]);
        Assert.Equal("cpu", (string?)json["device"]);
        Assert.True((bool)json["do_train"]!);
        Assert.True((bool)json["do_eval"]!);
        Assert.Equal([Path.Combine(_project, "train.txt"), Path.Combine(_project, "valid.txt")], job.InputFiles);
    }

    [Fact]
    public void Item_metadata_that_disagrees_with_the_config_class_is_LM1009_as_in_the_generator()
    {
        var resolver = Resolver(new CompiledJobConfiguration("wiki", """{"learning_rate":3e-05,"block_size":128,"model_name_or_path":"distilgpt2"}""", "App.WikiGpt2"));
        var jobs = resolver.Resolve([Item("wiki", ("Model", "tiny-gpt2"), ("TrainFile", "train.txt"), ("Config", "WikiGpt2"),
            ("BlockSize", "64"), ("LearningRate", "0.00003"))]);
        Assert.Empty(jobs);
        Assert.Equal(["LM1009", "LM1009"], resolver.Diagnostics.Select(d => d.Code));
        Assert.Contains(resolver.Diagnostics, d => d.Message.Contains("BlockSize '64' disagrees with '128'", StringComparison.Ordinal));
        Assert.Contains(resolver.Diagnostics, d => d.Message.Contains("Model 'tiny-gpt2' disagrees with 'distilgpt2'", StringComparison.Ordinal));
    }

    [Fact]
    public void A_disagreeing_hub_token_is_LM1009_without_either_token_in_the_build_log()
    {
        var resolver = Resolver(new CompiledJobConfiguration("wiki", """{"model_name_or_path":"tiny-gpt2","hub_token":"hf_class_secret"}""", "App.WikiGpt2"));
        var jobs = resolver.Resolve([Item("wiki", ("TrainFile", "train.txt"), ("Config", "WikiGpt2"), ("HubToken", "hf_item_secret"))]);
        Assert.Empty(jobs);
        var diagnostic = Assert.Single(resolver.Diagnostics);
        Assert.Equal("LM1009", diagnostic.Code);
        Assert.Contains("HubToken '<hidden>' disagrees with '<hidden>'", diagnostic.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hf_", diagnostic.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_model_type_lm_tune_does_not_build_is_LM2030_with_the_nearest_type()
    {
        var resolver = Resolver();
        var jobs = resolver.Resolve([Item("job", ("ModelType", "robeta"), ("TrainFile", "train.txt")), Item("other", ("ModelType", "t5"), ("TrainFile", "train.txt"))]);
        Assert.Empty(jobs);
        Assert.Equal(["LM2030", "LM2030"], resolver.Diagnostics.Select(d => d.Code));
        Assert.Equal("LanguageModelFineTune 'job': ModelType 'robeta' is not a model type lm-tune builds (gpt2, roberta, bert, llama, qwen2, mistral); did you mean 'roberta'?",
            resolver.Diagnostics[0].Message);
        Assert.EndsWith("(gpt2, roberta, bert, llama, qwen2, mistral)", resolver.Diagnostics[1].Message, StringComparison.Ordinal);
        // A type it builds resolves.
        Assert.Single(Resolver().Resolve([Item("job", ("ModelType", "qwen2"), ("TrainFile", "train.txt"))]));
    }

    [Fact]
    public void Without_Config_the_class_named_like_the_job_configures_it()
    {
        var resolver = Resolver(new CompiledJobConfiguration("wiki", """{"block_size":128}""", "App.WikiGpt2"),
            new CompiledJobConfiguration("other", """{"block_size":32}""", "App.Other"));
        var job = Assert.Single(resolver.Resolve([Item("wiki", ("Model", "tiny-gpt2"), ("TrainFile", "train.txt"))]));
        Assert.Equal(128, (int)JsonNode.Parse(job.JobJson)!["block_size"]!);
    }

    [Fact]
    public void Windows_separators_from_msbuild_are_separators()
    {
        var job = Resolver().Resolve([Item("wiki", ("Model", "tiny-gpt2"), ("TrainFile", ".\\train.txt"), ("OutputDir", "obj\\lm\\wiki\\"))])[0];
        Assert.Equal(Path.Combine(_project, "obj", "lm", "wiki") + Path.DirectorySeparatorChar, job.OutputDir);
        Assert.Equal([Path.Combine(_project, "train.txt")], job.InputFiles);
    }

    [Fact]
    public void Equal_items_give_byte_identical_job_files_written_once()
    {
        ResolvedJob Resolve() => Resolver().Resolve([Item("job", ("Model", "tiny-gpt2"), ("TrainFile", "train.txt"))])[0];
        var first = Resolve();
        Assert.True(first.WriteJobFileIfChanged());
        var written = File.GetLastWriteTimeUtc(first.JobFile);
        var second = Resolve();
        Assert.Equal(first.JobJson, second.JobJson);
        Assert.Equal(first.JobHash, second.JobHash);
        Assert.False(second.WriteJobFileIfChanged());
        Assert.Equal(written, File.GetLastWriteTimeUtc(second.JobFile));
    }

    /// <summary>The LoRA and chat metadata of docs/msbuild.md reach the job file, and meet a [Lora] class's values by the merge rule.</summary>
    [Fact]
    public void Lora_and_dataset_format_metadata_reach_the_job_and_meet_the_Lora_class_values()
    {
        File.WriteAllText(Path.Combine(_project, "chat.jsonl"), "{\"messages\": []}\n");
        var job = Assert.Single(Resolver().Resolve([Item("job", ("Model", "tiny-llama"), ("TrainFile", "chat.jsonl"), ("UsePeft", "true"),
            ("LoraR", "8"), ("LoraAlpha", "16"), ("LoraTargetModules", "q_proj,v_proj"), ("DatasetFormat", "messages"))]));
        var json = JsonNode.Parse(job.JobJson)!.AsObject();
        Assert.True((bool)json["use_peft"]!);
        Assert.Equal(8, (int)json["lora_r"]!);
        Assert.Equal(16.0, (double)json["lora_alpha"]!);
        Assert.Equal("q_proj,v_proj", (string?)json["lora_target_modules"]);
        Assert.Equal("messages", (string?)json["dataset_format"]);

        // What the generator records for [Lora(R = 8)]: use_peft from the attribute's presence, lora_r from R.
        var resolver = Resolver(new CompiledJobConfiguration("chat", """{"model_name_or_path":"tiny-llama","use_peft":true,"lora_r":8}""", "App.ChatLlama"));
        Assert.Empty(resolver.Resolve([Item("chat", ("TrainFile", "chat.jsonl"), ("Config", "ChatLlama"), ("LoraR", "16"))]));
        var diagnostic = Assert.Single(resolver.Diagnostics);
        Assert.Equal("LM1009", diagnostic.Code);
        Assert.Contains("LoraR '16' disagrees with '8'", diagnostic.Message);
    }

    [Fact]
    public void A_chat_template_file_is_made_absolute_and_is_an_input()
    {
        File.WriteAllText(Path.Combine(_project, "chat.jinja"), "{{ messages }}");
        var job = Resolver().Resolve([Item("job", ("Model", "tiny-llama"), ("TrainFile", "train.txt"), ("ChatTemplatePath", "chat.jinja"))])[0];
        Assert.Equal([Path.Combine(_project, "train.txt"), Path.Combine(_project, "chat.jinja")], job.InputFiles);
        Assert.Equal(Path.Combine(_project, "chat.jinja"), (string?)JsonNode.Parse(job.JobJson)!["chat_template_path"]);
    }

    [Fact]
    public void Local_model_folder_files_are_inputs()
    {
        string model = Directory.CreateDirectory(Path.Combine(_project, "..", Path.GetFileName(_project) + "-model")).FullName;
        try
        {
            File.WriteAllText(Path.Combine(model, "config.json"), "{}");
            var job = Resolver().Resolve([Item("job", ("Model", model), ("TrainFile", "train.txt"))])[0];
            Assert.Contains(Path.Combine(model, "config.json"), job.InputFiles);
        }
        finally
        {
            Directory.Delete(model, recursive: true);
        }
    }

    [Fact]
    public void Wrong_type_points_at_the_metadata_attribute()
    {
        var resolver = Resolver();
        Assert.Empty(resolver.Resolve([Item("job", ("Model", "tiny-gpt2"), ("TrainFile", "train.txt"), ("LearningRate", "fast"))]));
        var error = Assert.Single(resolver.Diagnostics);
        Assert.Equal("LM2005", error.Code);
        Assert.Equal(new ItemLocation(ProjectFile, 4, 28), error.Location);
        Assert.Contains("LearningRate expects a number, got 'fast'", error.Message);
    }

    [Theory]
    [InlineData("NoSuchClass", "names no class in the compiled assembly")]
    [InlineData("Program", "has no fine-tune configuration")]
    public void Config_without_a_compiled_configuration_is_an_error(string config, string message)
    {
        var resolver = Resolver(new CompiledJobConfiguration("wiki", "{}", "App.WikiGpt2"));
        Assert.Empty(resolver.Resolve([Item("job", ("Model", "tiny-gpt2"), ("TrainFile", "train.txt"), ("Config", config))]));
        var error = Assert.Single(resolver.Diagnostics);
        Assert.Equal("LM2004", error.Code);
        Assert.Contains(message, error.Message);
        Assert.Contains("App.WikiGpt2", error.Message);
    }

    [Theory]
    [InlineData("obj/lm/a/", "obj/lm/a/inner/", "LM2007")]
    [InlineData("obj/lm/a/", "obj/lm/a/", "LM2007")]
    [InlineData("obj/lm/a/", "models/b/", "LM2008")]
    [InlineData("obj/lm/a/", ".", "LM2008")]
    [InlineData("obj/lm/a/", "..", "LM2008")]
    public void Output_folders_must_not_overlap_nor_lie_in_the_sources(string first, string second, string code)
    {
        var resolver = Resolver();
        var jobs = resolver.Resolve([
            Item("a", ("Model", "tiny-gpt2"), ("TrainFile", "train.txt"), ("OutputDir", first)),
            Item("b", ("Model", "tiny-gpt2"), ("TrainFile", "train.txt"), ("OutputDir", second)),
        ]);
        Assert.Equal(["a"], jobs.Select(j => j.Name));
        Assert.Equal([code], resolver.Diagnostics.Select(d => d.Code));
    }

    [Fact]
    public void Output_folder_holding_the_data_is_refused()
    {
        string outside = Directory.CreateDirectory(Path.Combine(_project, "..", Path.GetFileName(_project) + "-out")).FullName;
        try
        {
            File.WriteAllText(Path.Combine(outside, "train.txt"), "text\n");
            var resolver = Resolver();
            resolver.Resolve([Item("a", ("Model", "tiny-gpt2"), ("TrainFile", Path.Combine(outside, "train.txt")), ("OutputDir", outside))]);
            var error = Assert.Single(resolver.Diagnostics);
            Assert.Equal("LM2008", error.Code);
            Assert.Contains("holds the job's input", error.Message);
        }
        finally
        {
            Directory.Delete(outside, recursive: true);
        }
    }
}
