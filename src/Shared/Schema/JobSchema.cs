using System;
using System.Collections.Generic;
using System.Linq;

namespace Lm.Schema
{
    /// <summary>
    /// The fine-tune schema, the one table every front end reads: compiled into Lm.Runtime (CLI flags, job.json),
    /// Lm.Generators (attributes, item metadata, compile-time checks) and Lm.Tasks (item metadata), none of which can
    /// load another. Each row is a field of the runtime's ModelArguments, DataArguments or TrainingArguments with
    /// HF's name and default and the range or choices <c>Validate()</c> enforces; a test asserts the argument classes,
    /// this table and the MSBuild targets' metadata list agree.
    /// </summary>
    internal static class JobSchema
    {
        public const string Model = "model";
        public const string Data = "data";
        public const string Training = "training";

        private static readonly string[] IntervalStrategies = { "no", "steps", "epoch" };

        /// <summary>Every field in the runtime's order (model, data, training; declaration order within each).</summary>
        public static readonly IReadOnlyList<SchemaField> Fields = new[]
        {
            // ModelArguments (run_clm.py / run_mlm.py ModelArguments, plus objective and device)
            new SchemaField("model_name_or_path", Model, FieldKind.Text, null, attributeProperty: "Model"),
            new SchemaField("model_type", Model, FieldKind.Text, null),
            new SchemaField("config_name", Model, FieldKind.Text, null),
            new SchemaField("config_overrides", Model, FieldKind.Text, null),
            new SchemaField("tokenizer_name", Model, FieldKind.Text, null),
            new SchemaField("cache_dir", Model, FieldKind.Text, null),
            new SchemaField("model_revision", Model, FieldKind.Text, "\"main\""),
            new SchemaField("torch_dtype", Model, FieldKind.Text, null, choices: new[] { "float32", "bfloat16", "auto" }),
            new SchemaField("objective", Model, FieldKind.Text, null, choices: new[] { "clm", "mlm" }),
            new SchemaField("device", Model, FieldKind.Text, "\"auto\"", choices: new[] { "auto", "cpu", "cuda", "cuda:N" }),
            // LoRA adapters (PEFT's LoraConfig under TRL's ModelConfig names)
            new SchemaField("use_peft", Model, FieldKind.Boolean, "false"),
            new SchemaField("lora_r", Model, FieldKind.Integer, "16", ValueRange.Positive),
            new SchemaField("lora_alpha", Model, FieldKind.Number, "32", ValueRange.Positive),
            new SchemaField("lora_dropout", Model, FieldKind.Number, "0.05", ValueRange.UnitHalfOpen),
            new SchemaField("lora_target_modules", Model, FieldKind.Text, null),
            new SchemaField("lora_modules_to_save", Model, FieldKind.Text, null),
            new SchemaField("use_rslora", Model, FieldKind.Boolean, "false"),
            new SchemaField("adapter_name_or_path", Model, FieldKind.Text, null),

            // DataArguments (DataTrainingArguments, plus grouping options)
            new SchemaField("dataset_name", Data, FieldKind.Text, null),
            new SchemaField("dataset_config_name", Data, FieldKind.Text, null),
            new SchemaField("train_file", Data, FieldKind.Text, null),
            new SchemaField("validation_file", Data, FieldKind.Text, null),
            new SchemaField("text_column", Data, FieldKind.Text, null),
            new SchemaField("max_train_samples", Data, FieldKind.Integer, null, ValueRange.Positive),
            new SchemaField("max_eval_samples", Data, FieldKind.Integer, null, ValueRange.Positive),
            new SchemaField("block_size", Data, FieldKind.Integer, null, ValueRange.Positive),
            new SchemaField("max_seq_length", Data, FieldKind.Integer, null, ValueRange.Positive),
            new SchemaField("overwrite_cache", Data, FieldKind.Boolean, "false"),
            new SchemaField("validation_split_percentage", Data, FieldKind.Integer, "5", ValueRange.Percentage),
            new SchemaField("preprocessing_num_workers", Data, FieldKind.Integer, null, ValueRange.Positive),
            new SchemaField("keep_linebreaks", Data, FieldKind.Boolean, "true"),
            new SchemaField("line_by_line", Data, FieldKind.Boolean, "false"),
            new SchemaField("pad_to_max_length", Data, FieldKind.Boolean, "false"),
            new SchemaField("mlm_probability", Data, FieldKind.Number, "0.15", ValueRange.UnitOpen),
            new SchemaField("whole_word_mask", Data, FieldKind.Boolean, "false"),
            new SchemaField("pad_to_multiple_of", Data, FieldKind.Integer, null, ValueRange.Positive),
            new SchemaField("group_batch_size", Data, FieldKind.Integer, "1000", ValueRange.Positive),
            new SchemaField("global_concatenation", Data, FieldKind.Boolean, "false"),
            // Chat and instruction data (TRL's SFTConfig names): rows of messages, prompt/completion or instruction/output.
            new SchemaField("dataset_format", Data, FieldKind.Text, "\"auto\"", choices: new[] { "auto", "text", "messages", "prompt_completion", "instruction" }),
            new SchemaField("chat_template_path", Data, FieldKind.Text, null),
            new SchemaField("assistant_only_loss", Data, FieldKind.Boolean, null),
            new SchemaField("completion_only_loss", Data, FieldKind.Boolean, null),
            new SchemaField("packing", Data, FieldKind.Boolean, "false"),
            new SchemaField("packing_strategy", Data, FieldKind.Text, "\"bfd\"", choices: new[] { "bfd", "wrapped" }),

            // TrainingArguments (HF's, the subset lm-tune implements)
            new SchemaField("output_dir", Training, FieldKind.Text, "\"trainer_output\""),
            new SchemaField("overwrite_output_dir", Training, FieldKind.Boolean, "false"),
            new SchemaField("do_train", Training, FieldKind.Boolean, "false"),
            new SchemaField("do_eval", Training, FieldKind.Boolean, "false"),
            new SchemaField("eval_strategy", Training, FieldKind.Text, "\"no\"", choices: IntervalStrategies),
            new SchemaField("eval_steps", Training, FieldKind.Number, null, ValueRange.Positive, stepCount: true),
            new SchemaField("eval_on_start", Training, FieldKind.Boolean, "false"),
            new SchemaField("per_device_train_batch_size", Training, FieldKind.Integer, "8", ValueRange.Positive),
            new SchemaField("per_device_eval_batch_size", Training, FieldKind.Integer, "8", ValueRange.Positive),
            new SchemaField("gradient_accumulation_steps", Training, FieldKind.Integer, "1", ValueRange.Positive),
            new SchemaField("learning_rate", Training, FieldKind.Number, "5e-05", ValueRange.Positive),
            new SchemaField("weight_decay", Training, FieldKind.Number, "0", ValueRange.NonNegative),
            new SchemaField("adam_beta1", Training, FieldKind.Number, "0.9", ValueRange.UnitHalfOpen),
            new SchemaField("adam_beta2", Training, FieldKind.Number, "0.999", ValueRange.UnitHalfOpen),
            new SchemaField("adam_epsilon", Training, FieldKind.Number, "1e-08", ValueRange.Positive),
            new SchemaField("max_grad_norm", Training, FieldKind.Number, "1", ValueRange.NonNegative),
            new SchemaField("label_smoothing_factor", Training, FieldKind.Number, "0", ValueRange.UnitClosed),
            // Positive unless max_steps is set: checked with max_steps (JobValidator).
            new SchemaField("num_train_epochs", Training, FieldKind.Number, "3"),
            // Positive, or -1 for "not set": checked by JobValidator.
            new SchemaField("max_steps", Training, FieldKind.Integer, "-1"),
            new SchemaField("lr_scheduler_type", Training, FieldKind.Text, "\"linear\"",
                choices: new[] { "linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup" }),
            new SchemaField("lr_scheduler_kwargs", Training, FieldKind.Map, "{}"),
            new SchemaField("warmup_ratio", Training, FieldKind.Number, "0", ValueRange.UnitClosed),
            new SchemaField("warmup_steps", Training, FieldKind.Integer, "0", ValueRange.NonNegative),
            new SchemaField("logging_strategy", Training, FieldKind.Text, "\"steps\"", choices: IntervalStrategies),
            new SchemaField("logging_steps", Training, FieldKind.Number, "500", ValueRange.Positive, stepCount: true),
            new SchemaField("logging_first_step", Training, FieldKind.Boolean, "false"),
            new SchemaField("logging_dir", Training, FieldKind.Text, null),
            new SchemaField("save_strategy", Training, FieldKind.Text, "\"steps\"", choices: IntervalStrategies),
            new SchemaField("save_steps", Training, FieldKind.Number, "500", ValueRange.Positive, stepCount: true),
            new SchemaField("save_total_limit", Training, FieldKind.Integer, null, ValueRange.Positive),
            new SchemaField("seed", Training, FieldKind.Integer, "42"),
            new SchemaField("data_seed", Training, FieldKind.Integer, null),
            new SchemaField("bf16", Training, FieldKind.Boolean, "false"),
            new SchemaField("dataloader_drop_last", Training, FieldKind.Boolean, "false"),
            new SchemaField("gradient_checkpointing", Training, FieldKind.Boolean, "false"),
            new SchemaField("load_best_model_at_end", Training, FieldKind.Boolean, "false"),
            new SchemaField("metric_for_best_model", Training, FieldKind.Text, null),
            new SchemaField("greater_is_better", Training, FieldKind.Boolean, null),
            new SchemaField("early_stopping_patience", Training, FieldKind.Integer, null, ValueRange.Positive),
            new SchemaField("early_stopping_threshold", Training, FieldKind.Number, "0"),
            new SchemaField("resume_from_checkpoint", Training, FieldKind.Text, null),
            new SchemaField("report_to", Training, FieldKind.Text, "\"all\"", choices: new[] { "all", "tensorboard", "none" }),
            new SchemaField("optim", Training, FieldKind.Text, "\"adamw_torch\"", choices: new[] { "adamw_torch" }),
            new SchemaField("run_name", Training, FieldKind.Text, null),

            // Sharded saves (lm-tune-specific: HF passes max_shard_size to save_pretrained, TrainingArguments has no such field)
            new SchemaField("max_shard_size", Training, FieldKind.Text, "\"5GB\""),

            // Push to the hub (HF's push_to_hub and hub_* TrainingArguments; Jobs/HubPush)
            new SchemaField("push_to_hub", Training, FieldKind.Boolean, "false"),
            new SchemaField("hub_model_id", Training, FieldKind.Text, null),
            new SchemaField("hub_strategy", Training, FieldKind.Text, "\"every_save\"",
                choices: new[] { "end", "every_save", "checkpoint", "all_checkpoints" }),
            new SchemaField("hub_token", Training, FieldKind.Text, null, secret: true),
            new SchemaField("hub_private_repo", Training, FieldKind.Boolean, null),
            new SchemaField("hub_revision", Training, FieldKind.Text, null),
        };

        private static readonly Dictionary<string, SchemaField> ByName = Fields.ToDictionary(f => f.Name, f => f, StringComparer.Ordinal);
        private static readonly Dictionary<string, SchemaField> ByPascalName = Fields.ToDictionary(f => f.PascalName, f => f, StringComparer.OrdinalIgnoreCase);

        /// <summary>The field with HF name <paramref name="name"/>, or null.</summary>
        public static SchemaField? Find(string name) => ByName.TryGetValue(name, out SchemaField? field) ? field : null;

        /// <summary>The field behind a C# property or item metadata name (case-insensitive, as MSBuild metadata names are), or null.</summary>
        public static SchemaField? FindByPascalName(string name) => ByPascalName.TryGetValue(name, out SchemaField? field) ? field : null;

        /// <summary>The field set by <paramref name="attributeProperty"/> of the attribute for <paramref name="section"/>, or null.</summary>
        public static SchemaField? FindByAttributeProperty(string section, string attributeProperty) =>
            Fields.FirstOrDefault(f => f.Section == section && f.AttributeProperty == attributeProperty);

        /// <summary>The position of a field in the table (section order, then declaration order).</summary>
        public static int IndexOf(string name)
        {
            for (int i = 0; i < Fields.Count; i++)
                if (Fields[i].Name == name) return i;
            return -1;
        }
    }
}
