using System.Text;
using System.Text.Json.Nodes;

namespace Lm.Runtime.Jobs.Export;

/// <summary>
/// The texts of an export folder besides the arguments: the training script, the launchers (accelerate, torchrun),
/// the accelerate and DeepSpeed configs, the Python requirements, a Dockerfile, the cluster manifests (Kubeflow
/// Trainer v2 <c>TrainJob</c>, Azure ML command job, Slurm batch script) and the folder's README.
/// </summary>
internal static class LaunchFiles
{
    /// <summary>The Python versions the export was written for (requirements.txt pins them).</summary>
    private static readonly (string Package, string Version)[] PythonPackages =
    {
        ("transformers", HfScriptArguments.TransformersVersion),
        ("accelerate", "1.10.1"),
        ("safetensors", "0.6.2"),
        ("sentencepiece", "0.2.1"),
        ("tensorboard", "2.20.0"),
        ("datasets", "4.0.0"),
    };

    private const string DeepSpeedVersion = "0.17.5";

    private const string PeftVersion = "0.17.1";

    public static string TrainScript()
    {
        using var stream = typeof(LaunchFiles).Assembly.GetManifestResourceStream("Lm.Runtime.Jobs.Export.train.py")
            ?? throw new InvalidOperationException("the training script is not embedded in Lm.Runtime");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    /// <summary>What each process runs after the launcher: train.py with the arguments file, or TRL's SFT script.</summary>
    public static string[] Entry(string objective, bool trl) => trl
        ? ["-m", "trl.scripts.sft", "--config", TrlExport.ConfigFile]
        : ["train.py", "--objective", objective, JobExporter.ArgumentsFile];

    public static string LaunchScript(string[] entry, ExportOptions options) => $$"""
        #!/usr/bin/env bash
        # Runs the exported lm-tune job with transformers' Trainer, through accelerate (default) or torchrun
        # (LAUNCHER=torchrun). On several machines run it once per machine with NUM_MACHINES, MACHINE_RANK,
        # MAIN_PROCESS_IP and MAIN_PROCESS_PORT set (slurm.sbatch does that).
        set -euo pipefail
        cd "$(dirname "$0")"
        NUM_PROCESSES="${NUM_PROCESSES:-{{options.NumProcesses}}}"
        NUM_MACHINES="${NUM_MACHINES:-{{options.NumMachines}}}"
        MACHINE_RANK="${MACHINE_RANK:-0}"
        MAIN_PROCESS_IP="${MAIN_PROCESS_IP:-127.0.0.1}"
        MAIN_PROCESS_PORT="${MAIN_PROCESS_PORT:-29500}"
        # The final model is saved whole (model.safetensors), also under FSDP, so lm-tune can take it back.
        export FSDP_STATE_DICT_TYPE="${FSDP_STATE_DICT_TYPE:-FULL_STATE_DICT}"
        total=$((NUM_PROCESSES * NUM_MACHINES))
        multi_gpu=()
        if [ "$total" -gt 1 ]; then multi_gpu=(--multi_gpu); fi
        case "${LAUNCHER:-accelerate}" in
          accelerate)
            exec accelerate launch --config_file accelerate_config.yaml "${multi_gpu[@]}" \
              --num_processes "$total" --num_machines "$NUM_MACHINES" --machine_rank "$MACHINE_RANK" \
              --main_process_ip "$MAIN_PROCESS_IP" --main_process_port "$MAIN_PROCESS_PORT" \
              {{string.Join(' ', entry)}} ;;
          torchrun)
            exec torchrun --nnodes "$NUM_MACHINES" --nproc_per_node "$NUM_PROCESSES" --node_rank "$MACHINE_RANK" \
              --master_addr "$MAIN_PROCESS_IP" --master_port "$MAIN_PROCESS_PORT" \
              {{string.Join(' ', entry)}} ;;
          *)
            echo "LAUNCHER must be accelerate or torchrun, got '${LAUNCHER}'" >&2
            exit 2 ;;
        esac

        """;

    public static string AccelerateConfig(ExportOptions options, bool bf16)
    {
        int total = options.NumProcesses * options.NumMachines;
        // FSDP and DeepSpeed are set in training_args.json (TrainingArguments.fsdp / .deepspeed), so accelerate
        // and torchrun run the same job; this config only says how many processes and machines.
        return $"""
            # accelerate launch --config_file accelerate_config.yaml (written by lm-tune export)
            compute_environment: LOCAL_MACHINE
            distributed_type: {(total > 1 ? "MULTI_GPU" : "'NO'")}
            num_machines: {options.NumMachines}
            num_processes: {total}
            machine_rank: 0
            main_training_function: main
            mixed_precision: {(bf16 ? "bf16" : "'no'")}
            downcast_bf16: 'no'
            gpu_ids: all
            rdzv_backend: static
            same_network: true
            use_cpu: false
            debug: false

            """;
    }

    public static JsonObject DeepSpeedConfig(int stage)
    {
        // "auto" values are filled in by transformers from training_args.json, so the two cannot disagree; no
        // optimizer or scheduler section, so the Trainer's AdamW and schedule are the ones lm-tune matches.
        var zero = new JsonObject
        {
            ["stage"] = stage,
            ["overlap_comm"] = true,
            ["contiguous_gradients"] = true,
            ["reduce_bucket_size"] = "auto",
        };
        if (stage == 3)
        {
            zero["stage3_prefetch_bucket_size"] = "auto";
            zero["stage3_param_persistence_threshold"] = "auto";
            zero["stage3_gather_16bit_weights_on_model_save"] = true;
        }
        return new JsonObject
        {
            ["bf16"] = new JsonObject { ["enabled"] = "auto" },
            ["fp16"] = new JsonObject { ["enabled"] = "auto" },
            ["zero_optimization"] = zero,
            ["gradient_accumulation_steps"] = "auto",
            ["gradient_clipping"] = "auto",
            ["train_batch_size"] = "auto",
            ["train_micro_batch_size_per_gpu"] = "auto",
        };
    }

    public static string Requirements(ExportOptions options, bool trl)
    {
        var lines = new List<string>
        {
            "# The Python stack this export was written for (torch comes with the base image; 2.6 or later).",
            "torch>=2.6",
        };
        lines.AddRange(PythonPackages.Select(p => $"{p.Package}=={p.Version}"));
        if (trl)
        {
            lines.Add($"trl=={TrlExport.TrlVersion}");
            lines.Add($"peft=={PeftVersion}");
        }
        if (options.DeepSpeedStage is not null) lines.Add($"deepspeed=={DeepSpeedVersion}");
        return string.Join("\n", lines) + "\n";
    }

    public static string Dockerfile(ExportOptions options, string jobName) => $"""
        # The image the cluster manifests run: the base image's torch and CUDA, the pinned Python packages, this folder.
        FROM {options.BaseImage}
        WORKDIR /workspace/{jobName}
        COPY requirements.txt .
        RUN pip install --no-cache-dir -r requirements.txt
        COPY . .

        """;

    public static string KubeflowTrainJob(string jobName, string[] entry, ExportOptions options)
    {
        string command = string.Concat(new[] { "torchrun" }.Concat(entry).Select(part => $"\n      - {part}"));
        return $"""
            # Kubeflow Trainer v2: kubectl apply -f kubeflow-trainjob.yaml (the torch-distributed runtime runs torchrun
            # with the node count and processes per node below; build the image from the Dockerfile first).
            apiVersion: trainer.kubeflow.org/v1alpha1
            kind: TrainJob
            metadata:
              name: {jobName}
            spec:
              runtimeRef:
                name: torch-distributed
              trainer:
                image: {options.Image ?? jobName + ":latest"}
                command:{command}
                numNodes: {options.NumMachines}
                numProcPerNode: {options.NumProcesses}
                resourcesPerNode:
                  limits:
                    nvidia.com/gpu: {options.NumProcesses}

            """;
    }

    public static string AzureMlJob(string jobName, string[] entry, ExportOptions options) => $"""
        # Azure ML: az ml job create --file azureml-job.yaml (the image is built from the Dockerfile; the model and
        # results are uploaded from ./outputs).
        $schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
        type: command
        display_name: {jobName}
        experiment_name: lm-tune
        code: .
        command: python {string.Join(' ', entry)}
        environment:
          build:
            path: .
        compute: azureml:{options.Compute}
        resources:
          instance_count: {options.NumMachines}
        distribution:
          type: pytorch
          process_count_per_instance: {options.NumProcesses}

        """;

    public static string SlurmScript(string jobName, ExportOptions options) => $$"""
        #!/usr/bin/env bash
        #SBATCH --job-name={{jobName}}
        #SBATCH --nodes={{options.NumMachines}}
        #SBATCH --ntasks-per-node=1
        #SBATCH --gpus-per-node={{options.NumProcesses}}
        #SBATCH --output=%x-%j.out
        # sbatch slurm.sbatch: one launch.sh per node, each with its rank; the first node hosts the rendezvous.
        set -euo pipefail
        cd "${SLURM_SUBMIT_DIR:-.}"
        MAIN_PROCESS_IP="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"
        export MAIN_PROCESS_IP
        export NUM_MACHINES="$SLURM_NNODES"
        export NUM_PROCESSES={{options.NumProcesses}}
        # shellcheck disable=SC2016 # SLURM_NODEID is each task's own, expanded on its node
        srun --kill-on-bad-exit=1 bash -c 'MACHINE_RANK="$SLURM_NODEID" ./launch.sh'

        """;

    public static string Readme(string jobName, string objective, bool trl, ExportOptions options, JsonObject arguments, IReadOnlyList<string> notes)
    {
        string script = objective == "mlm" ? "run_mlm.py" : "run_clm.py";
        string runs = trl
            ? $"""
            `sft_config.yaml` holds the job under TRL's names (`ScriptArguments`, `SFTConfig`, `ModelConfig` with PEFT's
            LoRA settings; written for TRL {TrlExport.TrlVersion}): `trl sft --config sft_config.yaml` runs it as well.
            Local data files are in `inputs/data/`, named after their split.

            """
            : $"""
            `training_args.json` holds the job's arguments under Hugging Face's names; transformers' own
            `{script}` reads the same file (`python {script} training_args.json`). `train.py` prepares the data as
            lm-tune and {script} do (it needs the `datasets` package only for hub datasets).

            """;
        var text = new StringBuilder();
        text.Append($"""
            # {jobName}: an lm-tune job exported for the Python stack

            Written by `lm-tune export`. The same fine-tune job as lm-tune runs it, with transformers' `Trainer`
            (written for transformers {HfScriptArguments.TransformersVersion}; see requirements.txt), on
            {options.NumMachines} machine(s) x {options.NumProcesses} process(es).

            ## Run it

                pip install -r requirements.txt
                ./launch.sh                      # accelerate launch
                LAUNCHER=torchrun ./launch.sh    # or torchrun

            """);
        text.Append(runs);
        string? manifest = options.Target switch
        {
            ExportTarget.Kubeflow => "Kubeflow Trainer: build and push the image from `Dockerfile`, then `kubectl apply -f kubeflow-trainjob.yaml`.",
            ExportTarget.AzureMl => "Azure ML: `az ml job create --file azureml-job.yaml` (the environment is built from `Dockerfile`; results land in `outputs/`).",
            ExportTarget.Slurm => "Slurm: `sbatch slurm.sbatch` from this folder (one `launch.sh` per node).",
            _ => null,
        };
        if (manifest is not null) text.Append($"\n## On the cluster\n\n{manifest}\n");
        text.Append($"""

            ## Take the result back

            The output folder (`{arguments["output_dir"]}`) is a Hugging Face model folder: `lm-tune evaluate --model
            <folder>` and `lm-tune generate --model <folder>` read it, and a build item takes it with
            `Model="<folder>"` (or `ResultDir="<folder>"` to use it as the job's trained result). Resuming the run in
            lm-tune from a Python checkpoint is not possible (its optimizer state is a pickle); start a new run from
            the weights instead.

            """);
        if (notes.Count > 0)
        {
            text.Append("\n## Notes\n\n");
            foreach (string note in notes) text.Append($"- {note}\n");
        }
        return text.ToString();
    }
}
