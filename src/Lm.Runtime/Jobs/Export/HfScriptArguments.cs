namespace Lm.Runtime.Jobs.Export;

/// <summary>
/// The argument names the Python stack accepts, by the dataclass that declares them: transformers 4.57's
/// <c>TrainingArguments</c> and the <c>ModelArguments</c>/<c>DataTrainingArguments</c> of its language-modeling
/// examples run_clm.py and run_mlm.py. <c>HfArgumentParser.parse_json_file</c> refuses a key none of the three
/// dataclasses has, so the export writes only these names.
/// </summary>
public static class HfScriptArguments
{
    /// <summary>The transformers release the names and defaults were taken from.</summary>
    public const string TransformersVersion = "4.57.1";

    /// <summary>The <c>TrainingArguments</c> fields an lm-tune job can set (a subset of HF's; the rest keep HF's defaults).</summary>
    public static readonly IReadOnlySet<string> TrainingArguments = new HashSet<string>(StringComparer.Ordinal)
    {
        "output_dir", "overwrite_output_dir", "do_train", "do_eval", "eval_strategy", "eval_steps", "eval_on_start",
        "per_device_train_batch_size", "per_device_eval_batch_size", "gradient_accumulation_steps", "learning_rate",
        "weight_decay", "adam_beta1", "adam_beta2", "adam_epsilon", "max_grad_norm", "label_smoothing_factor",
        "num_train_epochs", "max_steps", "lr_scheduler_type", "lr_scheduler_kwargs", "warmup_ratio", "warmup_steps",
        "logging_strategy", "logging_steps", "logging_first_step", "logging_dir", "save_strategy", "save_steps",
        "save_total_limit", "seed", "data_seed", "bf16", "dataloader_drop_last", "gradient_checkpointing",
        "load_best_model_at_end", "metric_for_best_model", "greater_is_better", "resume_from_checkpoint", "report_to",
        "optim", "run_name", "use_cpu", "fsdp", "fsdp_config", "deepspeed", "push_to_hub", "hub_model_id",
        "hub_strategy", "hub_token", "hub_private_repo", "hub_revision", "hub_always_push", "neftune_noise_alpha",
        "save_only_model", "save_safetensors", "torch_compile", "tf32", "fp16", "dataloader_num_workers",
    };

    /// <summary>run_clm.py's <c>ModelArguments</c>.</summary>
    public static readonly IReadOnlySet<string> ClmModelArguments = new HashSet<string>(StringComparer.Ordinal)
    {
        "model_name_or_path", "model_type", "config_overrides", "config_name", "tokenizer_name", "cache_dir",
        "use_fast_tokenizer", "model_revision", "token", "trust_remote_code", "dtype",
    };

    /// <summary>run_clm.py's <c>DataTrainingArguments</c>.</summary>
    public static readonly IReadOnlySet<string> ClmDataArguments = new HashSet<string>(StringComparer.Ordinal)
    {
        "dataset_name", "dataset_config_name", "train_file", "validation_file", "max_train_samples", "max_eval_samples",
        "streaming", "block_size", "overwrite_cache", "validation_split_percentage", "preprocessing_num_workers",
        "keep_linebreaks",
    };

    /// <summary>run_mlm.py's <c>ModelArguments</c> (it has no dtype argument).</summary>
    public static readonly IReadOnlySet<string> MlmModelArguments = new HashSet<string>(StringComparer.Ordinal)
    {
        "model_name_or_path", "model_type", "config_overrides", "config_name", "tokenizer_name", "cache_dir",
        "use_fast_tokenizer", "model_revision", "token", "trust_remote_code", "low_cpu_mem_usage",
    };

    /// <summary>run_mlm.py's <c>DataTrainingArguments</c> (no block_size and no keep_linebreaks: lines lose their breaks).</summary>
    public static readonly IReadOnlySet<string> MlmDataArguments = new HashSet<string>(StringComparer.Ordinal)
    {
        "dataset_name", "dataset_config_name", "train_file", "validation_file", "overwrite_cache",
        "validation_split_percentage", "max_seq_length", "preprocessing_num_workers", "mlm_probability", "line_by_line",
        "pad_to_max_length", "max_train_samples", "max_eval_samples", "streaming",
    };

    /// <summary>Whether <paramref name="name"/> is a key the script for <paramref name="objective"/> accepts.</summary>
    public static bool Accepts(string objective, string name) =>
        TrainingArguments.Contains(name)
        || (objective == "mlm" ? MlmModelArguments.Contains(name) || MlmDataArguments.Contains(name)
                               : ClmModelArguments.Contains(name) || ClmDataArguments.Contains(name));

    /// <summary>
    /// The decoder layer class of each architecture lm-tune trains, for FSDP's transformer-based wrapping
    /// (<c>fsdp_config.transformer_layer_cls_to_wrap</c>); HF's class names.
    /// </summary>
    public static string? DecoderLayerClass(string? modelType) => modelType switch
    {
        "gpt2" => "GPT2Block",
        "bert" => "BertLayer",
        "roberta" => "RobertaLayer",
        "llama" => "LlamaDecoderLayer",
        "qwen2" => "Qwen2DecoderLayer",
        "mistral" => "MistralDecoderLayer",
        _ => null,
    };
}
