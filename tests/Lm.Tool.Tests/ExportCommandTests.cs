using System.Diagnostics;
using System.Text.Json.Nodes;
using YamlDotNet.RepresentationModel;

namespace Lm.Tool.Tests;

/// <summary>
/// <c>lm-tune export</c> from the command line: the folder's files, launchers that pass a shell linter, a script
/// Python compiles, and manifests whose fields are the ones their schemas define.
/// </summary>
public sealed class ExportCommandTests
{
    // Kubeflow Trainer v2 (trainer.kubeflow.org/v1alpha1, pkg/apis/trainer/v1alpha1/trainjob_types.go): the fields
    // of TrainJob, its spec, runtimeRef and trainer.
    private static readonly string[] TrainJobFields = { "apiVersion", "kind", "metadata", "spec", "status" };
    private static readonly string[] TrainJobSpecFields =
        { "runtimeRef", "initializer", "trainer", "labels", "annotations", "podTemplateOverrides", "podSpecOverrides", "suspend", "managedBy" };
    private static readonly string[] RuntimeRefFields = { "name", "apiGroup", "kind" };
    private static readonly string[] TrainerFields = { "image", "command", "args", "env", "numNodes", "resourcesPerNode", "numProcPerNode" };

    // Azure ML CLI v2 command job (commandJob.schema.json): its top-level properties.
    private static readonly string[] AzureMlCommandJobFields =
    {
        "$schema", "type", "name", "display_name", "description", "tags", "properties", "experiment_name", "code", "command",
        "environment", "environment_variables", "compute", "resources", "distribution", "limits", "inputs", "outputs",
        "identity", "services", "queue_settings",
    };

    private static LmTuneProcess.Result Export(TempFolder work, params string[] extra) =>
        LmTuneProcess.Run(["export", "--to", work["export"], "--model", "tiny-gpt2", "--train-file", TinyModels.TrainFile,
            "--validation-file", TinyModels.ValidationFile, "--output-dir", "out", "--max-steps", "20", .. extra]);

    [Fact]
    public void Slurm_export_writes_the_folder_and_its_scripts_pass_the_linter()
    {
        using var work = new TempFolder();
        var result = Export(work, "--target", "slurm", "--num-processes", "2", "--num-machines", "2", "--json");
        Assert.True(result.ExitCode == 0, result.ToString());

        var files = result.Json["files"]!.AsArray().Select(f => f!.GetValue<string>()).ToArray();
        Assert.Equal(new[]
        {
            "Dockerfile", "README.md", "accelerate_config.yaml", "inputs/model-config/config.json",
            "inputs/model-config/merges.txt", "inputs/model-config/special_tokens_map.json",
            "inputs/model-config/tokenizer_config.json", "inputs/model-config/vocab.json", "inputs/train.txt",
            "inputs/validation.txt", "launch.sh", "lm-tune-job.json", "requirements.txt", "slurm.sbatch", "train.py",
            "training_args.json",
        }, files);
        Assert.Equal("clm", result.Json["objective"]!.GetValue<string>());

        foreach (string script in new[] { "launch.sh", "slurm.sbatch" }) Lint(work[Path.Combine("export", script)]);
        RunChecked("python3", "-B", "-c", $"import ast; ast.parse(open({JsonValue.Create(work["export/train.py"]).ToJsonString()}).read())");

        var accelerate = Yaml(work["export/accelerate_config.yaml"]);
        Assert.Equal("MULTI_GPU", Scalar(accelerate, "distributed_type"));
        Assert.Equal("4", Scalar(accelerate, "num_processes"));
        Assert.Equal("2", Scalar(accelerate, "num_machines"));
        string sbatch = File.ReadAllText(work["export/slurm.sbatch"]);
        Assert.Contains("#SBATCH --nodes=2\n", sbatch, StringComparison.Ordinal);
        Assert.Contains("#SBATCH --gpus-per-node=2\n", sbatch, StringComparison.Ordinal);
        var arguments = JsonNode.Parse(File.ReadAllText(work["export/training_args.json"]))!;
        Assert.Equal(20, arguments["max_steps"]!.GetValue<int>());
        Assert.Equal("inputs/train.txt", arguments["train_file"]!.GetValue<string>());
        Assert.Equal(File.ReadAllBytes(TinyModels.TrainFile), File.ReadAllBytes(work["export/inputs/train.txt"]));
    }

    [Fact]
    public void Kubeflow_manifest_has_only_TrainJob_fields_and_runs_the_exported_command()
    {
        using var work = new TempFolder();
        var result = Export(work, "--target", "kubeflow", "--num-processes", "8", "--num-machines", "2", "--fsdp", "--image", "registry.example/lm/job:1");
        Assert.True(result.ExitCode == 0, result.ToString());

        var job = Yaml(work["export/kubeflow-trainjob.yaml"]);
        AssertOnly(TrainJobFields, job);
        Assert.Equal("trainer.kubeflow.org/v1alpha1", Scalar(job, "apiVersion"));
        Assert.Equal("TrainJob", Scalar(job, "kind"));
        Assert.Equal("out", Scalar(Map(job, "metadata"), "name"));
        var spec = Map(job, "spec");
        AssertOnly(TrainJobSpecFields, spec);
        AssertOnly(RuntimeRefFields, Map(spec, "runtimeRef"));
        Assert.Equal("torch-distributed", Scalar(Map(spec, "runtimeRef"), "name"));
        var trainer = Map(spec, "trainer");
        AssertOnly(TrainerFields, trainer);
        Assert.Equal("registry.example/lm/job:1", Scalar(trainer, "image"));
        Assert.Equal("2", Scalar(trainer, "numNodes"));
        Assert.Equal("8", Scalar(trainer, "numProcPerNode"));
        Assert.Equal("8", Scalar(Map(Map(trainer, "resourcesPerNode"), "limits"), "nvidia.com/gpu"));
        var command = ((YamlSequenceNode)trainer.Children[new YamlScalarNode("command")]).Select(n => ((YamlScalarNode)n).Value).ToArray();
        Assert.Equal(new[] { "torchrun", "train.py", "--objective", "clm", "training_args.json" }, command);
        var arguments = JsonNode.Parse(File.ReadAllText(work["export/training_args.json"]))!;
        Assert.Equal("full_shard auto_wrap", arguments["fsdp"]!.GetValue<string>());
    }

    [Fact]
    public void Azure_ML_job_is_a_pytorch_command_job_writing_to_outputs()
    {
        using var work = new TempFolder();
        var result = Export(work, "--target", "azureml", "--num-processes", "4", "--compute", "a100-cluster");
        Assert.True(result.ExitCode == 0, result.ToString());

        var job = Yaml(work["export/azureml-job.yaml"]);
        AssertOnly(AzureMlCommandJobFields, job);
        Assert.Equal("command", Scalar(job, "type"));
        Assert.Equal("azureml:a100-cluster", Scalar(job, "compute"));
        Assert.Equal("python train.py --objective clm training_args.json", Scalar(job, "command"));
        Assert.Equal("pytorch", Scalar(Map(job, "distribution"), "type"));
        Assert.Equal("4", Scalar(Map(job, "distribution"), "process_count_per_instance"));
        // Azure ML uploads ./outputs, so the exported run writes there.
        var arguments = JsonNode.Parse(File.ReadAllText(work["export/training_args.json"]))!;
        Assert.Equal("outputs", arguments["output_dir"]!.GetValue<string>());
    }

    [Fact]
    public void Job_file_is_read_and_flags_override_it()
    {
        using var work = new TempFolder();
        string jobFile = work["job.json"];
        File.WriteAllText(jobFile, new JsonObject
        {
            ["model_name_or_path"] = "tiny-gpt2",
            ["train_file"] = TinyModels.TrainFile,
            ["learning_rate"] = 0.001,
            ["warmup_steps"] = 3,
        }.ToJsonString());
        var result = LmTuneProcess.Run(["export", jobFile, "--to", work["export"], "--learning-rate", "2e-3"]);
        Assert.True(result.ExitCode == 0, result.ToString());
        var arguments = JsonNode.Parse(File.ReadAllText(work["export/training_args.json"]))!;
        Assert.Equal(0.002, arguments["learning_rate"]!.GetValue<double>());
        Assert.Equal(3, arguments["warmup_steps"]!.GetValue<int>());
    }

    [Fact]
    public void Value_the_python_stack_cannot_express_exits_with_its_code_and_leaves_no_folder()
    {
        using var work = new TempFolder();
        var result = Export(work, "--global-concatenation", "true");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("error LM0960:", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("global_concatenation", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(work["export"]));
    }

    private static void Lint(string script)
    {
        // shellcheck where it is installed (.ci/run installs it); bash's own syntax check otherwise.
        if (OnPath("shellcheck")) RunChecked("shellcheck", "--shell=bash", script);
        else RunChecked("bash", "-n", script);
    }

    private static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Any(folder => folder.Length > 0 && File.Exists(Path.Combine(folder, program)));

    private static void RunChecked(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(60_000), $"{program} did not finish in 60 s");
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', args)}: exit {process.ExitCode}\n{stdout.Result}{stderr.Result}");
    }

    private static YamlMappingNode Yaml(string path)
    {
        var stream = new YamlStream();
        using var reader = new StreamReader(path);
        stream.Load(reader);
        return (YamlMappingNode)stream.Documents.Single().RootNode;
    }

    private static YamlMappingNode Map(YamlMappingNode node, string key) => (YamlMappingNode)node.Children[new YamlScalarNode(key)];

    private static string? Scalar(YamlMappingNode node, string key) => ((YamlScalarNode)node.Children[new YamlScalarNode(key)]).Value;

    private static void AssertOnly(string[] allowed, YamlMappingNode node)
    {
        foreach (var key in node.Children.Keys.Select(k => ((YamlScalarNode)k).Value!))
            Assert.True(allowed.Contains(key), $"'{key}' is not a field of this manifest's schema");
    }
}

/// <summary>
/// <c>lm-tune adopt</c>: a run's output folder in Hugging Face's layout (here made by lm-tune itself, as the Python
/// stack makes it) becomes a job's result without training, and evaluates exactly as the folder it came from.
/// </summary>
public sealed class AdoptCommandTests
{
    [Fact]
    public void Output_folder_of_a_run_made_elsewhere_becomes_the_jobs_result_and_evaluates_the_same()
    {
        using var work = new TempFolder();
        var trained = LmTuneProcess.Run(["train", "--model", TinyModels.Gpt2, .. TinyModels.FastTraining(work["elsewhere"]),
            "--save-strategy", "steps", "--save-steps", "2", "--do-eval", "--json"]);
        Assert.True(trained.ExitCode == 0, trained.ToString());
        Assert.True(Directory.Exists(work["elsewhere/checkpoint-2"]));

        var adopted = LmTuneProcess.Run(["adopt", "--from", work["elsewhere"], "--model", TinyModels.Gpt2,
            "--train-file", TinyModels.TrainFile, "--output-dir", work["job"], "--json"]);
        Assert.True(adopted.ExitCode == 0, adopted.ToString());
        Assert.Equal(4, adopted.Json["global_step"]!.GetValue<int>());
        Assert.Equal(trained.Json["eval_loss"]!.GetValue<double>(), adopted.Json["eval_loss"]!.GetValue<double>());
        Assert.Equal("clm", adopted.Json["objective"]!.GetValue<string>());

        // The top-level files, byte for byte; the checkpoints (optimizer state) stay behind.
        var sourceFiles = Directory.GetFiles(work["elsewhere"]).Select(Path.GetFileName).Where(n => !n!.StartsWith('.')).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(sourceFiles, Directory.GetFiles(work["job"]).Select(Path.GetFileName).Where(n => !n!.StartsWith('.')).Order(StringComparer.Ordinal).ToArray());
        Assert.Empty(Directory.GetDirectories(work["job"]));
        Assert.Equal(File.ReadAllBytes(work["elsewhere/model.safetensors"]), File.ReadAllBytes(work["job/model.safetensors"]));

        string[] evaluate = ["evaluate", "--validation-file", TinyModels.ValidationFile, "--block-size", "32", "--max-eval-samples", "8", "--json"];
        var fromSource = LmTuneProcess.Run([.. evaluate, "--model", work["elsewhere"]]);
        var fromJob = LmTuneProcess.Run([.. evaluate, "--model", work["job"]]);
        Assert.True(fromJob.ExitCode == 0, fromJob.ToString());
        Assert.Equal(fromSource.Json["eval_loss"]!.GetValue<double>(), fromJob.Json["eval_loss"]!.GetValue<double>());
    }

    [Fact]
    public void Folder_without_weights_or_missing_is_refused_with_its_code()
    {
        using var work = new TempFolder();
        Directory.CreateDirectory(work["empty"]);
        File.Copy(Path.Combine(TinyModels.Gpt2, "config.json"), work["empty/config.json"]);
        var noWeights = LmTuneProcess.Run(["adopt", "--from", work["empty"], "--model", TinyModels.Gpt2, "--train-file", TinyModels.TrainFile, "--output-dir", work["job"]]);
        Assert.Equal(1, noWeights.ExitCode);
        Assert.Contains("error LM0107:", noWeights.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(work["job"])); // checked before the output folder is touched

        var missing = LmTuneProcess.Run(["adopt", "--from", work["nowhere"], "--model", TinyModels.Gpt2, "--train-file", TinyModels.TrainFile, "--output-dir", work["job2"]]);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("error LM0963:", missing.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", missing.Stderr, StringComparison.Ordinal);
    }
}
