using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lm.Runtime.Data;
using Lm.Runtime.Errors;
using Lm.Runtime.Jobs;
using Lm.Runtime.Jobs.Export;

namespace Lm.Runtime.Tests.Jobs;

/// <summary>
/// <c>lm-tune export</c>'s arguments file: every key one that <c>HfArgumentParser</c> accepts with run_clm.py's or
/// run_mlm.py's dataclasses, every value the job's, nothing the job sets dropped without an error.
/// </summary>
public sealed class JobExportTests : IDisposable
{
    // transformers 4.57.1, src/transformers/training_args.py: the fields of the TrainingArguments dataclass.
    private static readonly HashSet<string> HfTrainingArguments = new(StringComparer.Ordinal)
    {
        "output_dir", "overwrite_output_dir", "do_train", "do_eval", "do_predict", "eval_strategy", "prediction_loss_only",
        "per_device_train_batch_size", "per_device_eval_batch_size", "per_gpu_train_batch_size", "per_gpu_eval_batch_size",
        "gradient_accumulation_steps", "eval_accumulation_steps", "eval_delay", "torch_empty_cache_steps", "learning_rate",
        "weight_decay", "adam_beta1", "adam_beta2", "adam_epsilon", "max_grad_norm", "num_train_epochs", "max_steps",
        "lr_scheduler_type", "lr_scheduler_kwargs", "warmup_ratio", "warmup_steps", "log_level", "log_level_replica",
        "log_on_each_node", "logging_dir", "logging_strategy", "logging_first_step", "logging_steps",
        "logging_nan_inf_filter", "save_strategy", "save_steps", "save_total_limit", "save_safetensors",
        "save_on_each_node", "save_only_model", "restore_callback_states_from_checkpoint", "no_cuda", "use_cpu",
        "use_mps_device", "seed", "data_seed", "jit_mode_eval", "use_ipex", "bf16", "fp16", "fp16_opt_level",
        "half_precision_backend", "bf16_full_eval", "fp16_full_eval", "tf32", "local_rank", "ddp_backend",
        "tpu_num_cores", "tpu_metrics_debug", "debug", "dataloader_drop_last", "eval_steps", "dataloader_num_workers",
        "dataloader_prefetch_factor", "past_index", "run_name", "disable_tqdm", "remove_unused_columns", "label_names",
        "load_best_model_at_end", "metric_for_best_model", "greater_is_better", "ignore_data_skip", "fsdp",
        "fsdp_min_num_params", "fsdp_config", "fsdp_transformer_layer_cls_to_wrap", "accelerator_config",
        "parallelism_config", "deepspeed", "label_smoothing_factor", "optim", "optim_args", "adafactor",
        "group_by_length", "length_column_name", "report_to", "project", "trackio_space_id",
        "ddp_find_unused_parameters", "ddp_bucket_cap_mb", "ddp_broadcast_buffers", "dataloader_pin_memory",
        "dataloader_persistent_workers", "skip_memory_metrics", "use_legacy_prediction_loop", "push_to_hub",
        "resume_from_checkpoint", "hub_model_id", "hub_strategy", "hub_token", "hub_private_repo", "hub_always_push",
        "hub_revision", "gradient_checkpointing", "gradient_checkpointing_kwargs", "include_inputs_for_metrics",
        "include_for_metrics", "eval_do_concat_batches", "fp16_backend", "push_to_hub_model_id",
        "push_to_hub_organization", "push_to_hub_token", "mp_parameters", "auto_find_batch_size", "full_determinism",
        "torchdynamo", "ray_scope", "ddp_timeout", "torch_compile", "torch_compile_backend", "torch_compile_mode",
        "include_tokens_per_second", "include_num_input_tokens_seen", "neftune_noise_alpha", "optim_target_modules",
        "batch_eval_metrics", "eval_on_start", "use_liger_kernel", "liger_kernel_config", "eval_use_gather_object",
        "average_tokens_across_devices",
    };

    // transformers 4.57.1, examples/pytorch/language-modeling/run_clm.py: ModelArguments + DataTrainingArguments.
    private static readonly HashSet<string> RunClmArguments = new(StringComparer.Ordinal)
    {
        "model_name_or_path", "model_type", "config_overrides", "config_name", "tokenizer_name", "cache_dir",
        "use_fast_tokenizer", "model_revision", "token", "trust_remote_code", "dtype",
        "dataset_name", "dataset_config_name", "train_file", "validation_file", "max_train_samples", "max_eval_samples",
        "streaming", "block_size", "overwrite_cache", "validation_split_percentage", "preprocessing_num_workers",
        "keep_linebreaks",
    };

    // transformers 4.57.1, examples/pytorch/language-modeling/run_mlm.py: ModelArguments + DataTrainingArguments.
    private static readonly HashSet<string> RunMlmArguments = new(StringComparer.Ordinal)
    {
        "model_name_or_path", "model_type", "config_overrides", "config_name", "tokenizer_name", "cache_dir",
        "use_fast_tokenizer", "model_revision", "token", "trust_remote_code", "low_cpu_mem_usage",
        "dataset_name", "dataset_config_name", "train_file", "validation_file", "overwrite_cache",
        "validation_split_percentage", "max_seq_length", "preprocessing_num_workers", "mlm_probability", "line_by_line",
        "pad_to_max_length", "max_train_samples", "max_eval_samples", "streaming",
    };

    private readonly string _root = Directory.CreateTempSubdirectory("lm-export-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string DataFile(string name, string text = "one line\ntwo lines\n")
    {
        string path = Path.Combine(_root, name);
        File.WriteAllText(path, text);
        return path;
    }

    private string ModelFolder(string modelType)
    {
        string folder = Directory.CreateDirectory(Path.Combine(_root, "base-" + modelType)).FullName;
        File.WriteAllText(Path.Combine(folder, "config.json"), $$"""{"model_type": "{{modelType}}"}""");
        File.WriteAllText(Path.Combine(folder, "model.safetensors"), "weights");
        Directory.CreateDirectory(Path.Combine(folder, "checkpoint-5"));
        File.WriteAllText(Path.Combine(folder, "checkpoint-5", "optimizer.safetensors"), "state");
        return folder;
    }

    private static JsonObject ReadArguments(string folder) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(folder, JobExporter.ArgumentsFile)))!.AsObject();

    [Fact]
    public void Causal_job_exports_every_value_it_sets_under_run_clm_and_TrainingArguments_names()
    {
        string model = ModelFolder("llama");
        var job = FineTuneJob.FromJson($$"""
            {
              "model_name_or_path": {{JsonSerializer.Serialize(model)}}, "torch_dtype": "bfloat16",
              "train_file": {{JsonSerializer.Serialize(DataFile("train.txt"))}},
              "validation_file": {{JsonSerializer.Serialize(DataFile("valid.txt"))}},
              "block_size": 64, "keep_linebreaks": false, "validation_split_percentage": 10,
              "preprocessing_num_workers": 2, "max_train_samples": 100,
              "output_dir": "runs/llama", "learning_rate": 3e-4, "weight_decay": 0.01, "warmup_steps": 5,
              "lr_scheduler_type": "cosine", "max_steps": 20, "per_device_train_batch_size": 4,
              "gradient_accumulation_steps": 2, "eval_strategy": "steps", "eval_steps": 10, "logging_steps": 5,
              "save_steps": 10, "save_total_limit": 2, "seed": 7, "bf16": true, "label_smoothing_factor": 0.1,
              "max_grad_norm": 0.5, "run_name": "nightly", "gradient_checkpointing": true, "dataloader_drop_last": true,
              "data_seed": 3, "mlm_probability": 0.3
            }
            """);
        string folder = Path.Combine(_root, "export");
        var result = JobExporter.Export(job, new ExportModel("llama", null), folder, new ExportOptions());

        // Written by hand from the job above: HF's names, the job's values, local inputs under inputs/ (the
        // model folder's files without its checkpoint), mlm_probability absent (causal LM reads it nowhere).
        var expected = JsonNode.Parse("""
            {
              "bf16": true, "block_size": 64, "data_seed": 3, "dataloader_drop_last": true, "do_eval": true,
              "do_train": true, "dtype": "bfloat16", "eval_steps": 10, "eval_strategy": "steps",
              "gradient_accumulation_steps": 2, "gradient_checkpointing": true, "keep_linebreaks": false,
              "label_smoothing_factor": 0.1, "learning_rate": 0.0003, "logging_steps": 5, "lr_scheduler_type": "cosine",
              "max_grad_norm": 0.5, "max_steps": 20, "max_train_samples": 100, "model_name_or_path": "inputs/model",
              "output_dir": "runs/llama", "per_device_train_batch_size": 4, "preprocessing_num_workers": 2,
              "report_to": "all", "run_name": "nightly", "save_steps": 10, "save_total_limit": 2, "seed": 7,
              "train_file": "inputs/train.txt", "validation_file": "inputs/valid.txt", "validation_split_percentage": 10,
              "warmup_steps": 5, "weight_decay": 0.01
            }
            """)!;
        var exported = ReadArguments(folder);
        Assert.True(JsonNode.DeepEquals(expected, exported), exported.ToJsonString());
        Assert.All(exported, pair => Assert.True(HfTrainingArguments.Contains(pair.Key) || RunClmArguments.Contains(pair.Key), pair.Key));
        Assert.Equal("clm", result.Objective);
        Assert.Equal(new[]
        {
            "Dockerfile", "README.md", "accelerate_config.yaml", "inputs/model/config.json", "inputs/model/model.safetensors",
            "inputs/train.txt", "inputs/valid.txt", "launch.sh", "lm-tune-job.json", "requirements.txt", "train.py",
            "training_args.json",
        }, result.Files);
        Assert.Equal("one line\ntwo lines\n", File.ReadAllText(Path.Combine(folder, "inputs/train.txt")));
        // The job itself travels along, so the result can be matched to it.
        Assert.Equal(job.ToJson() + "\n", File.ReadAllText(Path.Combine(folder, JobExporter.JobFile)));
    }

    [Fact]
    public void Masked_job_maps_to_run_mlm_names()
    {
        var job = FineTuneJob.FromJson($$"""
            {
              "model_name_or_path": "FacebookAI/roberta-base", "objective": "mlm", "model_revision": "v2",
              "train_file": {{JsonSerializer.Serialize(DataFile("lines.txt"))}}, "block_size": 48, "line_by_line": true,
              "pad_to_max_length": true, "mlm_probability": 0.2, "keep_linebreaks": false, "num_train_epochs": 2
            }
            """);
        string folder = Path.Combine(_root, "mlm");
        JobExporter.Export(job, new ExportModel(null, null), folder, new ExportOptions { CopyInputs = false });

        var expected = JsonNode.Parse($$"""
            {
              "do_eval": false, "do_train": true, "line_by_line": true, "max_seq_length": 48,
              "mlm_probability": 0.2, "model_name_or_path": "FacebookAI/roberta-base", "model_revision": "v2",
              "num_train_epochs": 2, "output_dir": "trainer_output", "pad_to_max_length": true, "report_to": "all",
              "seed": 42, "train_file": {{JsonSerializer.Serialize(Path.Combine(_root, "lines.txt"))}}
            }
            """)!;
        var exported = ReadArguments(folder);
        Assert.True(JsonNode.DeepEquals(expected, exported), exported.ToJsonString());
        Assert.All(exported, pair => Assert.True(HfTrainingArguments.Contains(pair.Key) || RunMlmArguments.Contains(pair.Key), pair.Key));
    }

    [Fact]
    public void Fresh_model_is_written_as_a_config_folder_the_python_stack_initialises_from()
    {
        var job = FineTuneJob.FromJson($$"""{ "model_name_or_path": "tiny-gpt2", "train_file": {{JsonSerializer.Serialize(DataFile("t.txt"))}} }""");
        string folder = Path.Combine(_root, "fresh");
        var result = JobExporter.Export(job, new ExportModel("gpt2", f => File.WriteAllText(Path.Combine(f, "config.json"), """{"model_type":"gpt2"}""")),
            folder, new ExportOptions { NumProcesses = 8, NumMachines = 2, Fsdp = true });

        var exported = ReadArguments(folder);
        Assert.Equal("inputs/model-config", exported["config_name"]!.GetValue<string>());
        Assert.Equal("inputs/model-config", exported["tokenizer_name"]!.GetValue<string>());
        Assert.False(exported.ContainsKey("model_name_or_path"));
        Assert.Equal("full_shard auto_wrap", exported["fsdp"]!.GetValue<string>());
        Assert.Equal("GPT2Block", exported["fsdp_config"]!["transformer_layer_cls_to_wrap"]![0]!.GetValue<string>());
        Assert.Contains("inputs/model-config/config.json", result.Files);
        Assert.Contains(result.Notes, n => n.Contains("16 processes", StringComparison.Ordinal));
        string accelerate = File.ReadAllText(Path.Combine(folder, "accelerate_config.yaml"));
        Assert.Contains("distributed_type: MULTI_GPU\n", accelerate, StringComparison.Ordinal);
        Assert.Contains("num_processes: 16\n", accelerate, StringComparison.Ordinal);
        Assert.Contains("num_machines: 2\n", accelerate, StringComparison.Ordinal);
    }

    [Fact]
    public void DeepSpeed_stage_goes_to_a_config_file_the_arguments_name()
    {
        var job = FineTuneJob.FromJson($$"""{ "model_name_or_path": "org/model", "objective": "clm", "train_file": {{JsonSerializer.Serialize(DataFile("t.txt"))}} }""");
        string folder = Path.Combine(_root, "ds");
        var result = JobExporter.Export(job, new ExportModel(null, null), folder, new ExportOptions { DeepSpeedStage = 3, NumProcesses = 4 });

        Assert.Equal("ds_config.json", ReadArguments(folder)["deepspeed"]!.GetValue<string>());
        var ds = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "ds_config.json")))!;
        Assert.Equal(3, ds["zero_optimization"]!["stage"]!.GetValue<int>());
        Assert.True(ds["zero_optimization"]!["stage3_gather_16bit_weights_on_model_save"]!.GetValue<bool>());
        Assert.Equal("auto", ds["gradient_accumulation_steps"]!.GetValue<string>());
        Assert.Null(ds["optimizer"]); // the Trainer's own AdamW, the one lm-tune matches
        Assert.Contains("deepspeed==", File.ReadAllText(Path.Combine(folder, "requirements.txt")), StringComparison.Ordinal);
        Assert.Contains("ds_config.json", result.Files);
    }

    // TRL 0.24.0: trl/trainer/model_config.py ModelConfig, trl/scripts/utils.py ScriptArguments, and the fields
    // trl/trainer/sft_config.py's SFTConfig adds to TrainingArguments.
    private static readonly HashSet<string> TrlArguments = new(StringComparer.Ordinal)
    {
        "model_name_or_path", "model_revision", "dtype", "trust_remote_code", "attn_implementation", "use_peft", "lora_r",
        "lora_alpha", "lora_dropout", "lora_target_modules", "lora_target_parameters", "lora_modules_to_save",
        "lora_task_type", "use_rslora", "use_dora", "load_in_8bit", "load_in_4bit", "bnb_4bit_quant_type",
        "use_bnb_nested_quant",
        "dataset_name", "dataset_config", "dataset_train_split", "dataset_test_split", "dataset_streaming",
        "gradient_checkpointing_use_reentrant", "ignore_bias_buffers",
        "model_init_kwargs", "chat_template_path", "dataset_text_field", "dataset_kwargs", "dataset_num_proc",
        "eos_token", "pad_token", "max_length", "shuffle_dataset", "packing", "packing_strategy", "padding_free",
        "pad_to_multiple_of", "eval_packing", "completion_only_loss", "assistant_only_loss", "loss_type",
        "activation_offloading",
    };

    [Fact]
    public void Lora_chat_job_exports_a_trl_sft_config_with_every_training_value()
    {
        string model = ModelFolder("llama");
        var job = FineTuneJob.FromJson($$"""
            {
              "model_name_or_path": {{JsonSerializer.Serialize(model)}}, "use_peft": true, "lora_r": 8, "lora_alpha": 16,
              "lora_target_modules": "q_proj, v_proj", "lora_modules_to_save": "lm_head",
              "train_file": {{JsonSerializer.Serialize(DataFile("chat.jsonl", "{\"messages\": []}\n"))}},
              "validation_file": {{JsonSerializer.Serialize(DataFile("chat-valid.jsonl", "{\"messages\": []}\n"))}},
              "dataset_format": "messages", "max_seq_length": 256, "packing": true, "assistant_only_loss": true,
              "learning_rate": 5e-05, "max_steps": 20, "eval_strategy": "steps", "eval_steps": 10, "output_dir": "runs/chat"
            }
            """);
        string folder = Path.Combine(_root, "trl");
        var result = JobExporter.Export(job, new ExportModel("llama", null), folder, new ExportOptions());

        var lines = File.ReadAllLines(Path.Combine(folder, TrlExport.ConfigFile)).Where(l => !l.StartsWith('#')).ToList();
        var config = lines.ToDictionary(l => l[..l.IndexOf(": ", StringComparison.Ordinal)], l => l[(l.IndexOf(": ", StringComparison.Ordinal) + 2)..]);
        Assert.All(config.Keys, key => Assert.True(HfTrainingArguments.Contains(key) || TrlArguments.Contains(key), key));
        // The job's LoRA and data values, under TRL's names; lists as YAML flow sequences.
        Assert.Equal("true", config["use_peft"]);
        Assert.Equal("8", config["lora_r"]);
        Assert.Equal("16", config["lora_alpha"]);
        Assert.Equal("[\"q_proj\", \"v_proj\"]", config["lora_target_modules"]);
        Assert.Equal("[\"lm_head\"]", config["lora_modules_to_save"]);
        Assert.Equal("\"inputs/model\"", config["model_name_or_path"]);
        Assert.Equal("\"inputs/data\"", config["dataset_name"]);
        Assert.Equal("\"train\"", config["dataset_train_split"]);
        Assert.Equal("\"validation\"", config["dataset_test_split"]);
        Assert.Equal("256", config["max_length"]);
        Assert.Equal("true", config["packing"]);
        Assert.Equal("true", config["assistant_only_loss"]);
        // PyYAML reads 5e-05 as text; the float keeps its dot.
        Assert.Equal("5.0e-05", config["learning_rate"]);
        // SFTConfig changes TrainingArguments' defaults, so lm-tune's (HF's) values are written even when default.
        Assert.Equal("500", config["logging_steps"]);
        Assert.Equal("false", config["gradient_checkpointing"]);
        Assert.Equal("false", config["bf16"]);
        Assert.Equal("\"runs/chat\"", config["output_dir"]);
        Assert.Contains("inputs/data/train.jsonl", result.Files);
        Assert.Contains("inputs/data/validation.jsonl", result.Files);
        Assert.DoesNotContain("train.py", result.Files);
        Assert.Contains("-m trl.scripts.sft --config sft_config.yaml", File.ReadAllText(Path.Combine(folder, "launch.sh")), StringComparison.Ordinal);
        Assert.Contains("trl==", File.ReadAllText(Path.Combine(folder, "requirements.txt")), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(128, "128", null)]
    [InlineData(4096, "1024", null)]
    [InlineData(null, "1024", "the model's config is not on this machine")]
    public void Trl_config_writes_lm_tunes_effective_chat_defaults_not_trls(int? maxPositions, string maxLength, string? note)
    {
        // Unset in the job: lm-tune trains conversations on the assistant's tokens (TRL: every token) and cuts rows at
        // min(1024, the model's positions) (TRL: 1024 whatever the model). SupervisedData.MaxLength and CreateTokenizer.
        string chat = DataFile("conversations.jsonl",
            "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello\"}]}\n");
        var job = FineTuneJob.FromJson($$"""{ "model_name_or_path": "org/model", "use_peft": true, "train_file": {{JsonSerializer.Serialize(chat)}} }""");
        string folder = Path.Combine(_root, "chat-defaults");
        var result = JobExporter.Export(job, new ExportModel("llama", null, maxPositions), folder, new ExportOptions { CopyInputs = false });

        var config = TrlConfig(folder);
        Assert.Equal(maxLength, config["max_length"]);
        Assert.Equal("true", config["assistant_only_loss"]);
        Assert.False(config.ContainsKey("completion_only_loss"));
        Assert.Contains(result.Notes, n => n.StartsWith("assistant_only_loss true", StringComparison.Ordinal));
        if (note is null) Assert.DoesNotContain(result.Notes, n => n.StartsWith("max_length", StringComparison.Ordinal));
        else Assert.Contains(result.Notes, n => n.StartsWith("max_length 1024", StringComparison.Ordinal) && n.Contains(note, StringComparison.Ordinal));
    }

    [Fact]
    public void Trl_config_of_text_prompt_completion_rows_trains_on_completions_and_keeps_values_the_job_set()
    {
        string rows = DataFile("pairs.jsonl", "{\"prompt\": \"2+2=\", \"completion\": \"4\"}\n");
        var job = FineTuneJob.FromJson($$"""{ "model_name_or_path": "org/model", "use_peft": true, "train_file": {{JsonSerializer.Serialize(rows)}} }""");
        JobExporter.Export(job, new ExportModel("llama", null, 512), Path.Combine(_root, "pairs"), new ExportOptions { CopyInputs = false });
        var config = TrlConfig(Path.Combine(_root, "pairs"));
        Assert.Equal("512", config["max_length"]);
        Assert.Equal("false", config["assistant_only_loss"]);
        Assert.Equal("true", config["completion_only_loss"]);

        var set = FineTuneJob.FromJson($$"""{ "model_name_or_path": "org/model", "use_peft": true, "train_file": {{JsonSerializer.Serialize(rows)}}, "max_seq_length": 64, "completion_only_loss": false }""");
        JobExporter.Export(set, new ExportModel("llama", null, 512), Path.Combine(_root, "pairs-set"), new ExportOptions { CopyInputs = false });
        var setConfig = TrlConfig(Path.Combine(_root, "pairs-set"));
        Assert.Equal("64", setConfig["max_length"]);
        Assert.Equal("false", setConfig["completion_only_loss"]);
    }

    private static Dictionary<string, string> TrlConfig(string folder) =>
        File.ReadAllLines(Path.Combine(folder, TrlExport.ConfigFile)).Where(l => !l.StartsWith('#') && l.Contains(": ", StringComparison.Ordinal))
            .ToDictionary(l => l[..l.IndexOf(": ", StringComparison.Ordinal)], l => l[(l.IndexOf(": ", StringComparison.Ordinal) + 2)..]);

    [Theory]
    [InlineData(5e-05, "5.0e-05")]
    [InlineData(0.0003, "0.0003")]
    [InlineData(2.0, "2.0")]
    [InlineData(1e20, "1.0e+20")]
    [InlineData(0.1, "0.1")]
    public void Floats_in_the_trl_config_are_floats_to_PyYAML(double value, string expected)
    {
        Assert.Equal(expected, TrlExport.YamlFloat(value));
    }

    [Fact]
    public void Instruction_rows_and_masked_lm_are_refused_for_trl()
    {
        var job = FineTuneJob.FromJson($$"""{ "model_name_or_path": "org/model", "objective": "clm", "dataset_format": "instruction", "train_file": {{JsonSerializer.Serialize(DataFile("alpaca.jsonl", "{}\n"))}} }""");
        var error = Assert.Throws<LmException>(() => JobExporter.Export(job, new ExportModel(null, null), Path.Combine(_root, "alpaca"), new ExportOptions()));
        Assert.Equal(ErrorCodes.ExportUnexpressible, error.Code);
        Assert.Contains("dataset_format instruction", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_root, "alpaca")));
    }

    [Theory]
    [InlineData("\"group_batch_size\": 10", "group_batch_size")]
    [InlineData("\"global_concatenation\": true", "global_concatenation")]
    [InlineData("\"text_column\": \"body\"", "text_column")]
    [InlineData("\"early_stopping_patience\": 2, \"eval_strategy\": \"steps\"", "early_stopping_patience")]
    [InlineData("\"resume_from_checkpoint\": \"last\"", "resume_from_checkpoint")]
    [InlineData("\"pad_to_multiple_of\": 8", "pad_to_multiple_of")]
    public void Value_the_python_stack_cannot_express_is_an_error_and_writes_nothing(string setting, string name)
    {
        var job = FineTuneJob.FromJson($$"""{ "model_name_or_path": "org/model", "objective": "clm", "train_file": {{JsonSerializer.Serialize(DataFile("t.txt"))}}, {{setting}} }""");
        string folder = Path.Combine(_root, "refused");
        var error = Assert.Throws<LmException>(() => JobExporter.Export(job, new ExportModel(null, null), folder, new ExportOptions()));
        Assert.Equal(ErrorCodes.ExportUnexpressible, error.Code);
        Assert.Contains(name, error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(folder));
    }

    [Fact]
    public void Masked_job_with_a_dtype_is_refused_as_run_mlm_has_none()
    {
        var job = FineTuneJob.FromJson($$"""{ "model_name_or_path": "org/bert", "objective": "mlm", "torch_dtype": "bfloat16", "train_file": {{JsonSerializer.Serialize(DataFile("t.txt"))}} }""");
        var error = Assert.Throws<LmException>(() => JobExporter.Export(job, new ExportModel(null, null), Path.Combine(_root, "x"), new ExportOptions()));
        Assert.Equal(ErrorCodes.ExportUnexpressible, error.Code);
        Assert.Contains("torch_dtype", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Folder_that_is_not_empty_is_refused_and_left_as_it_was()
    {
        string folder = Directory.CreateDirectory(Path.Combine(_root, "taken")).FullName;
        File.WriteAllText(Path.Combine(folder, "mine.txt"), "keep");
        var job = FineTuneJob.FromJson($$"""{ "model_name_or_path": "org/model", "objective": "clm", "train_file": {{JsonSerializer.Serialize(DataFile("t.txt"))}} }""");
        var error = Assert.Throws<LmException>(() => JobExporter.Export(job, new ExportModel(null, null), folder, new ExportOptions()));
        Assert.Equal(ErrorCodes.ExportFolderNotEmpty, error.Code);
        Assert.Equal(new[] { "mine.txt" }, Directory.GetFileSystemEntries(folder).Select(Path.GetFileName));
        Assert.Equal("keep", File.ReadAllText(Path.Combine(folder, "mine.txt")));
    }

    [Theory]
    [InlineData(0, 1, false, null)]
    [InlineData(1, 0, false, null)]
    [InlineData(2, 1, true, 2)]
    [InlineData(2, 1, false, 1)]
    public void Conflicting_or_out_of_range_options_are_refused(int processes, int machines, bool fsdp, int? stage)
    {
        var job = FineTuneJob.FromJson($$"""{ "model_name_or_path": "org/model", "objective": "clm", "train_file": {{JsonSerializer.Serialize(DataFile("t.txt"))}} }""");
        var options = new ExportOptions { NumProcesses = processes, NumMachines = machines, Fsdp = fsdp, DeepSpeedStage = stage };
        var error = Assert.Throws<LmException>(() => JobExporter.Export(job, new ExportModel(null, null), Path.Combine(_root, "o"), options));
        Assert.Equal(ErrorCodes.ExportOptionInvalid, error.Code);
    }

    [Fact]
    public void Hub_model_of_unknown_type_needs_an_objective()
    {
        var job = FineTuneJob.FromJson($$"""{ "model_name_or_path": "org/model", "train_file": {{JsonSerializer.Serialize(DataFile("t.txt"))}} }""");
        var error = Assert.Throws<LmException>(() => JobExporter.Export(job, new ExportModel(null, null), Path.Combine(_root, "u"), new ExportOptions()));
        Assert.Equal(ErrorCodes.ExportOptionInvalid, error.Code);
        Assert.Contains("--objective", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("runs/My Job_v2", "runs-my-job-v2")]
    [InlineData("2024", "lm-tune-2024")]
    [InlineData("", "lm-tune")]
    public void Job_names_are_what_Kubernetes_accepts(string text, string expected)
    {
        Assert.Equal(expected, JobExporter.JobName(text));
    }

    /// <summary>
    /// The exported train.py reads text files as the <c>datasets</c> text builder does, and lm-tune reads them the
    /// same way: the same rows from Python's own <c>str.splitlines</c> as from lm-tune's reader, for line ends and
    /// separators that differ between the two languages' notions of a line.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Exported_script_reads_text_files_into_the_rows_lm_tune_reads(bool keepLinebreaks)
    {
        string text = "first\r\nsecond\rthird\n\nform\ffeed\vtab\u2028line sep\u0085next\u001cfile sep\nlast without end";
        string path = DataFile("tricky.txt", text);
        string script = Directory.CreateDirectory(Path.Combine(_root, "script")).FullName;
        File.WriteAllText(Path.Combine(script, "train.py"), ScriptText());

        string python = RunPython(script, $"print(json.dumps(train.read_text_rows({JsonSerializer.Serialize(path)}, {(keepLinebreaks ? "True" : "False")})))");
        var pythonRows = JsonSerializer.Deserialize<string[]>(python)!;
        var lmTuneRows = TextSource.FromFile(path, null, keepLinebreaks).ReadRows().ToArray();
        Assert.Equal(pythonRows, lmTuneRows);
        Assert.Equal(6, pythonRows.Length); // split at \n, \r\n and \r only: \f, \v, U+2028, U+0085 and U+001C stay inside rows
    }

    [Fact]
    public void Exported_script_splits_validation_rows_where_lm_tune_does()
    {
        string script = Directory.CreateDirectory(Path.Combine(_root, "split")).FullName;
        File.WriteAllText(Path.Combine(script, "train.py"), ScriptText());
        int[] percents = { 0, 1, 5, 10, 25, 33, 50, 99, 100 };
        int[] rowCounts = { 1, 2, 3, 10, 19, 20, 21, 39, 40, 41, 199, 1000 };
        string python = RunPython(script,
            $"print(json.dumps([[train.percent_boundary(p, n) for n in {JsonSerializer.Serialize(rowCounts)}] for p in {JsonSerializer.Serialize(percents)}]))");
        var pythonCuts = JsonSerializer.Deserialize<int[][]>(python)!;
        for (int i = 0; i < percents.Length; i++)
        {
            for (int j = 0; j < rowCounts.Length; j++)
            {
                string path = DataFile($"rows-{rowCounts[j]}.txt", string.Concat(Enumerable.Range(0, rowCounts[j]).Select(r => $"row {r}\n")));
                long validation = TextSource.FromFile(path).SlicePercent(null, percents[i]).CountRows();
                Assert.True(pythonCuts[i][j] == validation, $"{percents[i]}% of {rowCounts[j]}: python {pythonCuts[i][j]}, lm-tune {validation}");
            }
        }
    }

    private static string ScriptText() => LaunchFiles.TrainScript();

    /// <summary>Runs python3 (part of the CI image; .ci/run installs it where missing) with the script folder importable.</summary>
    private static string RunPython(string scriptFolder, string body)
    {
        var start = new ProcessStartInfo("python3")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-B");
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add($"import json, sys\nsys.path.insert(0, {JsonSerializer.Serialize(scriptFolder)})\nimport train\n{body}");
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(60_000), "python3 did not finish in 60 s");
        Assert.True(process.ExitCode == 0, stderr.Result);
        return stdout.Result;
    }
}
