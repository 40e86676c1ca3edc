using System.CommandLine;
using System.Text.Json.Nodes;
using Lm.Runtime.Errors;
using Lm.Runtime.Jobs;
using Lm.Runtime.Models;
using Lm.Runtime.Models.Lora;
using Lm.Runtime.Native;
using Lm.Tool.Cli;

namespace Lm.Tool.Commands;

/// <summary>
/// <c>lm-tune merge --model BASE --adapter-name-or-path A --output-dir M</c>: PEFT's <c>merge_and_unload()</c> then
/// <c>save_pretrained</c>: a plain HF model folder whose targeted weights are <c>W + B·A·scaling</c> (transposed for
/// GPT-2's Conv1D), which computes what base + adapter computes.
/// </summary>
internal static class MergeCommand
{
    public static Command Create(LmTuneApp app)
    {
        var outputDir = new Option<string>("--output-dir", "-o") { Description = "The folder to write the merged model to", Required = true };
        var overwrite = new Option<bool>("--overwrite-output-dir") { Description = "Write into a folder that is not empty" };
        var seed = new Option<long>("--seed") { Description = "Seed of a randomly initialised base (a tiny-* preset), as the training run used", DefaultValueFactory = _ => 42 };
        var modelOptions = new JobOptions(f => f.Section == "model");
        var command = new Command("merge", "Merge a LoRA adapter into its base model and save a plain model folder") { outputDir, overwrite, seed };
        modelOptions.AddTo(command);
        app.SetAction(command, async invocation =>
        {
            var args = modelOptions.Read(invocation).Model;
            string adapterFolder = args.AdapterNameOrPath
                ?? throw new LmException(ErrorCodes.InvalidOption, "merge needs --adapter-name-or-path, the PEFT adapter folder to merge");
            // Read the adapter's config before anything is written: a folder that is no adapter leaves no output behind.
            var adapterConfig = LoraConfig.Load(adapterFolder);
            string folder = invocation.Get(outputDir)!;
            // The base alone: the adapter is merged into its weights, not applied on top of them.
            args.AdapterNameOrPath = null;
            args.UsePeft = false;
            var source = await ModelSource.ResolveAsync(args, invocation.Output.Info, invocation.Output.Detail, invocation.Cancellation);
            OutputFolder.Prepare(folder, invocation.Get(overwrite), resumeAllowed: false);
            TorchRuntime.EnsureLoaded();
            using var model = source.CreateModel(args, invocation.Get(seed));
            var merged = LoraModel.MergeInto(model, adapterFolder);
            PretrainedModel.Save(model, folder);
            source.Tokenizer.Save(folder);
            invocation.Output.Info($"merged {merged.TargetModules?.Count ?? 0} target names (r={merged.R}, scaling {merged.Scaling:0.####}) into {model.ArchitectureName}; saved to {folder}");
            var json = new JsonObject
            {
                ["output_dir"] = Path.GetFullPath(folder),
                ["model"] = source.Name,
                ["adapter"] = Path.GetFullPath(adapterFolder),
                ["r"] = merged.R,
                ["lora_alpha"] = merged.LoraAlpha,
                ["scaling"] = merged.Scaling,
                ["fan_in_fan_out"] = merged.FanInFanOut,
                ["total_parameters"] = model.ParameterCount(),
                ["base_model_name_or_path"] = adapterConfig.BaseModelNameOrPath,
            };
            return new CommandResult(json, o => o.WriteLine(Path.GetFullPath(folder)));
        });
        return command;
    }
}
