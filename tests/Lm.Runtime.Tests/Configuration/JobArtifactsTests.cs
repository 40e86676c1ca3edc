using System.Reflection;
using System.Reflection.Emit;
using Lm.Runtime.Configuration;
using Lm.Runtime.Errors;
using Lm.Runtime.Models;

namespace Lm.Runtime.Tests.Configuration;

public class JobArtifactsTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "lm-artifacts-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public void Output_folder_defaults_to_lm_slash_job_under_the_app_base_directory()
    {
        var artifacts = JobArtifacts.For(typeof(JobArtifactsTests).Assembly, "wiki-gpt2");
        Assert.Equal(Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "lm", "wiki-gpt2")), artifacts.OutputDirectory);
        Assert.Equal(artifacts.OutputDirectory, artifacts.ModelDirectory);
    }

    [Fact]
    public void Output_folder_recorded_by_the_build_in_assembly_metadata_wins()
    {
        var assembly = AssemblyBuilder.DefineDynamicAssembly(new AssemblyName("WithJobOutput"), AssemblyBuilderAccess.Run);
        var constructor = typeof(AssemblyMetadataAttribute).GetConstructor(new[] { typeof(string), typeof(string) })!;
        assembly.SetCustomAttribute(new CustomAttributeBuilder(constructor, new object[] { "LmJobOutput:wiki-gpt2", _folder }));
        assembly.SetCustomAttribute(new CustomAttributeBuilder(constructor, new object[] { "LmJobOutput:other", "elsewhere" }));

        Assert.Equal(_folder, JobArtifacts.For(assembly, "wiki-gpt2").OutputDirectory);
        Assert.Equal(Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "elsewhere")), JobArtifacts.For(assembly, "other").OutputDirectory);
    }

    [Fact]
    public void Metrics_are_the_numbers_of_all_results_json()
    {
        Directory.CreateDirectory(_folder);
        File.WriteAllText(Path.Combine(_folder, "all_results.json"),
            """{ "epoch": 1.0, "eval_loss": 3.25, "perplexity": 25.790339917193062, "train_samples": 120, "note": "text is skipped" }""");
        var metrics = JobArtifacts.At("j", _folder).ReadMetrics();
        Assert.Equal(new[] { "epoch", "eval_loss", "perplexity", "train_samples" }, metrics.Keys.Order());
        Assert.Equal(3.25, metrics["eval_loss"]);
        Assert.Equal(25.790339917193062, metrics["perplexity"]);
    }

    [Fact]
    public void Metrics_of_an_untrained_job_are_LM1101_naming_the_file()
    {
        var artifacts = JobArtifacts.At("j", _folder);
        Assert.False(artifacts.IsTrained);
        var e = Assert.Throws<LmException>(() => artifacts.ReadMetrics());
        Assert.Equal(ErrorCodes.JobResultsMissing, e.Code);
        Assert.Equal(artifacts.MetricsFile, e.File);
        Assert.Contains("'j'", e.Message);
    }

    [Fact]
    public void Loading_the_model_of_an_untrained_job_is_LM1101_naming_the_weights()
    {
        var artifacts = JobArtifacts.At("j", _folder);
        var e = Assert.Throws<LmException>(() => artifacts.LoadModel());
        Assert.Equal(ErrorCodes.JobResultsMissing, e.Code);
        Assert.Equal(Path.Combine(_folder, "model.safetensors"), e.File);
        Assert.Equal(ErrorCodes.JobResultsMissing, Assert.Throws<LmException>(() => artifacts.LoadTokenizer()).Code);
    }

    [Fact]
    public void Trained_model_loads_from_the_output_folder_with_the_saved_weights()
    {
        // Compared with the saved model itself, not a second model from the same seed: torch's global generator is
        // shared with tests running in parallel.
        using var saved = ModelPresets.Create("tiny-gpt2", seed: 7);
        PretrainedModel.Save(saved, _folder);
        using var loaded = JobArtifacts.At("j", _folder).LoadModel();
        var expectedParameters = saved.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, parameter) in loaded.named_parameters())
            Assert.True(parameter.equal(expectedParameters[name]).all().item<bool>(), name);
        Assert.Equal(expectedParameters.Count, loaded.named_parameters().Count());
    }

    [Fact]
    public void A_lora_job_loads_its_base_folder_with_the_adapter_applied()
    {
        string baseFolder = Path.Combine(_folder, "base"), output = Path.Combine(_folder, "out");
        using var adapted = ModelPresets.Create("tiny-gpt2", seed: 3);
        PretrainedModel.Save(adapted, baseFolder);
        var adapter = Lm.Runtime.Models.Lora.LoraModel.Apply(adapted,
            new Lm.Runtime.Models.Lora.LoraConfig { R = 2, TargetModules = ["c_attn"], BaseModelNameOrPath = baseFolder });
        using (TorchSharp.torch.no_grad())
            foreach (var layer in adapter.Layers) layer.B.fill_(0.25f); // a non-zero update
        adapter.Save(output);

        var artifacts = JobArtifacts.At("j", output);
        Assert.True(artifacts.IsAdapter);
        Assert.True(artifacts.IsTrained);
        using var loaded = artifacts.LoadModel();
        var expected = adapted.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Assert.Equal(expected.Keys.Order(), loaded.named_parameters().Select(p => p.name).Order());
        foreach (var (name, parameter) in loaded.named_parameters())
            Assert.True(parameter.equal(expected[name]).all().item<bool>(), name);
        Assert.Contains(loaded.named_parameters(), p => p.name == "transformer.h.0.attn.c_attn.lora_B.weight");
    }

    [Fact]
    public void Checkpoints_are_ordered_by_step_number_not_by_name()
    {
        foreach (string name in new[] { "checkpoint-1000", "checkpoint-500", "checkpoint-99", "checkpoint-x", "runs" })
            Directory.CreateDirectory(Path.Combine(_folder, name));
        var checkpoints = JobArtifacts.At("j", _folder).GetCheckpoints().Select(Path.GetFileName);
        Assert.Equal(new[] { "checkpoint-99", "checkpoint-500", "checkpoint-1000" }, checkpoints);
    }

    [Fact]
    public void Trained_means_config_and_weights_are_there()
    {
        Directory.CreateDirectory(_folder);
        File.WriteAllText(Path.Combine(_folder, "config.json"), "{}");
        Assert.False(JobArtifacts.At("j", _folder).IsTrained);
        File.WriteAllBytes(Path.Combine(_folder, "model.safetensors"), new byte[8]);
        Assert.True(JobArtifacts.At("j", _folder).IsTrained);
    }
}
