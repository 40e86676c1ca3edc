using System.CommandLine;
using System.Text.Json.Nodes;
using Lm.Runtime.Jobs;
using Lm.Runtime.Models;
using Lm.Runtime.Native;
using Lm.Runtime.Tokenization;
using Lm.Tool.Cli;

namespace Lm.Tool.Commands;

/// <summary>
/// <c>lm-tune init SOURCE --output-dir DIR</c>: a randomly initialised HF model folder (config.json, model.safetensors,
/// tokenizer files) from a preset name or a config.json, for training from scratch and for tests.
/// </summary>
internal static class InitCommand
{
    public static Command Create(LmTuneApp app)
    {
        var source = new Argument<string>("source")
        {
            Description = $"A preset ({string.Join(", ", ModelPresets.Names)}), a config.json, or a model folder whose config to reuse",
        };
        var outputDir = new Option<string>("--output-dir", "-o") { Description = "The folder to create", Required = true };
        var seed = new Option<int>("--seed") { Description = "Seed of the random initialisation (HF's set_seed)", DefaultValueFactory = _ => 42 };
        var tokenizer = new Option<string>("--tokenizer-name")
        {
            Description = "Tokenizer folder to copy in (default: GPT-2's vocabulary for gpt2 and for llama/qwen2/mistral with at least 50,257 rows, RoBERTa's built on it for roberta)",
        };
        var overwrite = new Option<bool>("--overwrite-output-dir") { Description = "Write into a folder that is not empty" };
        var command = new Command("init", "Create a randomly initialised model folder from a preset or a config.json")
        {
            source, outputDir, seed, tokenizer, overwrite,
        };
        app.SetAction(command, invocation =>
        {
            string folder = invocation.Get(outputDir)!;
            // The config and the tokenizer are resolved first: a source without a vocabulary leaves no empty folder behind.
            var config = ModelSource.ConfigFromName(invocation.Get(source)!);
            var tokenizerToSave = invocation.Get(tokenizer) is { } tokenizerFolder
                ? LmTokenizer.FromPretrained(tokenizerFolder)
                : ModelSource.DefaultTokenizer(config);
            OutputFolder.Prepare(folder, invocation.Get(overwrite), resumeAllowed: false);
            TorchRuntime.EnsureLoaded();
            using var model = LanguageModel.Create(config, invocation.Get(seed));
            PretrainedModel.Save(model, folder);
            tokenizerToSave.Save(folder);
            invocation.Output.Info($"created {config.ArchitectureName} with {model.ParameterCount():N0} parameters in {folder}");
            var json = new JsonObject
            {
                ["output_dir"] = Path.GetFullPath(folder),
                ["model_type"] = config.ModelType,
                ["architecture"] = config.ArchitectureName,
                ["parameters"] = model.ParameterCount(),
                ["vocab_size"] = config.VocabSize,
                ["max_positions"] = config.MaxPositions,
                ["seed"] = invocation.Get(seed),
            };
            return Task.FromResult(new CommandResult(json, o => o.WriteLine(Path.GetFullPath(folder))));
        });
        return command;
    }
}
