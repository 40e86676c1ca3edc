namespace Lm.Runtime.Jobs.Export;

/// <summary>Where the exported job is meant to run besides a shell: the cluster manifest written next to launch.sh.</summary>
public enum ExportTarget { Local, Kubeflow, AzureMl, Slurm }

/// <summary>How the exported job runs: processes, machines, sharding, the cluster manifest and its image.</summary>
public sealed class ExportOptions
{
    /// <summary>Processes (GPUs) per machine.</summary>
    public int NumProcesses { get; init; } = 1;

    /// <summary>Machines (nodes).</summary>
    public int NumMachines { get; init; } = 1;

    /// <summary>Fully sharded data parallel (<c>TrainingArguments.fsdp = "full_shard auto_wrap"</c>).</summary>
    public bool Fsdp { get; init; }

    /// <summary>DeepSpeed ZeRO stage 2 or 3 (<c>TrainingArguments.deepspeed = "ds_config.json"</c>); null for none.</summary>
    public int? DeepSpeedStage { get; init; }

    public ExportTarget Target { get; init; } = ExportTarget.Local;

    /// <summary>The container image the Dockerfile starts from (Kubeflow and Azure ML build on it).</summary>
    public string BaseImage { get; init; } = "pytorch/pytorch:2.9.1-cuda12.8-cudnn9-runtime";

    /// <summary>The image the Kubeflow TrainJob runs: the one built from the exported Dockerfile.</summary>
    public string? Image { get; init; }

    /// <summary>The Azure ML compute cluster name.</summary>
    public string Compute { get; init; } = "gpu-cluster";

    /// <summary>Copy local data files and model folders into <c>inputs/</c> (true), or refer to them by absolute path.</summary>
    public bool CopyInputs { get; init; } = true;

    /// <summary>The job's name in manifests; derived from the output folder when not given.</summary>
    public string? JobName { get; init; }
}

/// <summary>
/// What the exporter needs to know of the job's model that the job's arguments do not say: its HF
/// <c>model_type</c> (null when only the hub knows it) and, for a random initialisation, a writer of the model
/// folder (config.json and tokenizer files) that the Python stack initialises from; <c>MaxPositions</c>, the longest
/// sequence its position embeddings allow (null when only the hub knows), for the defaults lm-tune derives from it.
/// </summary>
public sealed record ExportModel(string? ModelType, Action<string>? WriteFreshModelFolder, int? MaxPositions = null);

/// <summary>The export folder, the files written (relative, sorted) and notes for the user.</summary>
public sealed record ExportResult(string Folder, string Objective, IReadOnlyList<string> Files, IReadOnlyList<string> Notes);
