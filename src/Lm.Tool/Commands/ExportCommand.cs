using System.CommandLine;
using System.Text.Json.Nodes;
using Lm.Runtime.Errors;
using Lm.Runtime.Hub;
using Lm.Runtime.Jobs;
using Lm.Runtime.Jobs.Export;
using Lm.Runtime.Models;
using Lm.Runtime.Tokenization;
using Lm.Tool.Cli;

namespace Lm.Tool.Commands;

/// <summary>
/// <c>lm-tune export [JOB.json] --to DIR</c>: the job (a job file such as a build's <c>obj/lm/NAME.job.json</c>, the
/// flags of <c>train</c>, or both) as a folder that runs it with the Python stack under accelerate or torchrun,
/// with a cluster manifest on request. Nothing is trained and nothing is downloaded.
/// </summary>
internal static class ExportCommand
{
    public static Command Create(LmTuneApp app)
    {
        var jobOptions = new JobOptions();
        var jobFile = new Argument<string?>("job")
        {
            Description = "A job file (HF argument names, as --config reads; a build's obj/lm/NAME.job.json); flags override it",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var to = new Option<string>("--to") { Description = "The folder to write (new or empty)", Required = true, HelpName = "dir" };
        var numProcesses = new Option<int>("--num-processes") { Description = "Processes (GPUs) per machine", DefaultValueFactory = _ => 1 };
        var numMachines = new Option<int>("--num-machines") { Description = "Machines (nodes)", DefaultValueFactory = _ => 1 };
        var fsdp = new Option<bool>("--fsdp") { Description = "Fully sharded data parallel (TrainingArguments.fsdp \"full_shard auto_wrap\")" };
        var deepSpeed = new Option<string?>("--deepspeed") { Description = "DeepSpeed ZeRO stage", HelpName = "zero2|zero3" };
        deepSpeed.AcceptOnlyFromAmong("zero2", "zero3");
        var target = new Option<string>("--target") { Description = "A cluster manifest to write beside launch.sh", DefaultValueFactory = _ => "local", HelpName = "local|kubeflow|azureml|slurm" };
        target.AcceptOnlyFromAmong("local", "kubeflow", "azureml", "slurm");
        var image = new Option<string?>("--image") { Description = "The image the Kubeflow TrainJob runs (default: <job name>:latest, built from the Dockerfile)" };
        var baseImage = new Option<string?>("--base-image") { Description = "The image the Dockerfile starts from (it must have torch with CUDA)" };
        var compute = new Option<string?>("--compute") { Description = "The Azure ML compute cluster (default gpu-cluster)" };
        var jobName = new Option<string?>("--job-name") { Description = "The job's name in manifests (default: the output folder's name)" };
        var referenceInputs = new Option<bool>("--reference-inputs")
        {
            Description = "Refer to local data and model folders by absolute path (a shared file system) instead of copying them into inputs/",
        };
        var command = new Command("export", "Write a folder that runs the job with transformers' Trainer under accelerate or torchrun (and a Kubeflow, Azure ML or Slurm manifest)")
        {
            jobFile, to, numProcesses, numMachines, fsdp, deepSpeed, target, image, baseImage, compute, jobName, referenceInputs,
        };
        jobOptions.AddTo(command);
        app.SetAction(command, invocation =>
        {
            var parse = invocation.Parse;
            var job = jobOptions.Read(invocation, new Dictionary<string, JsonNode?> { ["do_train"] = true }, parse.GetValue(jobFile));
            var defaults = new ExportOptions();
            var options = new ExportOptions
            {
                NumProcesses = parse.GetValue(numProcesses),
                NumMachines = parse.GetValue(numMachines),
                Fsdp = parse.GetValue(fsdp),
                DeepSpeedStage = parse.GetValue(deepSpeed) switch { "zero2" => 2, "zero3" => 3, _ => null },
                Target = parse.GetValue(target) switch
                {
                    "kubeflow" => ExportTarget.Kubeflow,
                    "azureml" => ExportTarget.AzureMl,
                    "slurm" => ExportTarget.Slurm,
                    _ => ExportTarget.Local,
                },
                Image = parse.GetValue(image),
                BaseImage = parse.GetValue(baseImage) ?? defaults.BaseImage,
                Compute = parse.GetValue(compute) ?? defaults.Compute,
                JobName = parse.GetValue(jobName),
                CopyInputs = !parse.GetValue(referenceInputs),
            };
            var result = JobExporter.Export(job, DescribeModel(job), parse.GetValue(to)!, options);
            foreach (string note in result.Notes) invocation.Output.Info(note);
            var json = new JsonObject
            {
                ["export_dir"] = result.Folder,
                ["objective"] = result.Objective,
                ["files"] = new JsonArray(result.Files.Select(f => (JsonNode?)f).ToArray()),
            };
            return Task.FromResult(new CommandResult(json, o =>
            {
                o.WriteLine($"exported to {result.Folder}");
                foreach (string file in result.Files) o.WriteLine($"  {file}");
                o.WriteLine($"run it with: {Path.Combine(result.Folder, "launch.sh")}");
            }));
        });
        return command;
    }

    /// <summary>
    /// The model's type, from what is on this machine only (a preset, a local folder, the hub cache), and for a
    /// random initialisation the writer of the config and tokenizer the Python stack starts from.
    /// </summary>
    private static ExportModel DescribeModel(FineTuneJob job)
    {
        var args = job.Model;
        if (JobExporter.IsFreshModel(job))
        {
            string configName = args.ModelNameOrPath is { Length: > 0 } preset ? preset
                : args.ConfigName ?? args.ModelType
                ?? throw new LmException(ErrorCodes.InvalidArgument, "model_name_or_path is required (a model folder, hub id or preset such as tiny-gpt2)");
            var config = ModelSource.ConfigFromName(configName);
            if (!string.IsNullOrWhiteSpace(args.ConfigOverrides)) config = ModelSource.ApplyOverrides(config, args.ConfigOverrides);
            LmTokenizer? tokenizer = args.TokenizerName is null ? ModelSource.DefaultTokenizer(config) : null;
            return new ExportModel(config.ModelType, folder =>
            {
                config.Save(Path.Combine(folder, PretrainedModel.ConfigFile));
                tokenizer?.Save(folder);
            }, config.MaxPositions);
        }
        string name = args.ModelNameOrPath!;
        string? folder = Directory.Exists(name) ? name : CachedFolder(name, args);
        var modelConfig = folder is not null && File.Exists(Path.Combine(folder, PretrainedModel.ConfigFile))
            ? PretrainedModel.ReadConfig(folder)
            : null;
        return new ExportModel(modelConfig?.ModelType, null, modelConfig?.MaxPositions);
    }

    private static string? CachedFolder(string hubId, ModelArguments args)
    {
        try
        {
            if (!HubCache.IsRepoId(hubId)) return null;
            HubCache.RequireRevision(args.ModelRevision);
            var settings = HubSettings.FromEnvironment(args.CacheDir);
            return new HubCache(settings.CacheDir).FindModelSnapshot(hubId, args.ModelRevision);
        }
        catch (LmException)
        {
            return null; // not a valid hub id or not cached: the model type stays unknown
        }
    }
}
