namespace Lm.Tasks.Schema;

/// <summary>
/// The fine-tune job schema's fields (<c>Lm.Runtime.Jobs.FineTuneJob.Fields</c>: HF names, in section order),
/// repeated here because the tasks must not load Lm.Runtime into the MSBuild node. A test asserts this table equals
/// the runtime's and prints the up-to-date table when it does not.
/// </summary>
internal static class JobSchema
{
    /// <summary>Every field, in the runtime's order (model, data, training).</summary>
    public static IReadOnlyList<SchemaField> Fields { get; } =
    [
        new("model_name_or_path", SchemaFieldKind.Text),
        new("model_type", SchemaFieldKind.Text),
        new("config_name", SchemaFieldKind.Text),
        new("config_overrides", SchemaFieldKind.Text),
        new("tokenizer_name", SchemaFieldKind.Text),
        new("cache_dir", SchemaFieldKind.Text),
        new("model_revision", SchemaFieldKind.Text),
        new("torch_dtype", SchemaFieldKind.Text),
        new("objective", SchemaFieldKind.Text),
        new("device", SchemaFieldKind.Text),
        new("dataset_name", SchemaFieldKind.Text),
        new("dataset_config_name", SchemaFieldKind.Text),
        new("train_file", SchemaFieldKind.Text),
        new("validation_file", SchemaFieldKind.Text),
        new("text_column", SchemaFieldKind.Text),
        new("max_train_samples", SchemaFieldKind.Integer),
        new("max_eval_samples", SchemaFieldKind.Integer),
        new("block_size", SchemaFieldKind.Integer),
        new("max_seq_length", SchemaFieldKind.Integer),
        new("overwrite_cache", SchemaFieldKind.Boolean),
        new("validation_split_percentage", SchemaFieldKind.Integer),
        new("preprocessing_num_workers", SchemaFieldKind.Integer),
        new("keep_linebreaks", SchemaFieldKind.Boolean),
        new("line_by_line", SchemaFieldKind.Boolean),
        new("pad_to_max_length", SchemaFieldKind.Boolean),
        new("mlm_probability", SchemaFieldKind.Number),
        new("whole_word_mask", SchemaFieldKind.Boolean),
        new("pad_to_multiple_of", SchemaFieldKind.Integer),
        new("group_batch_size", SchemaFieldKind.Integer),
        new("global_concatenation", SchemaFieldKind.Boolean),
        new("output_dir", SchemaFieldKind.Text),
        new("overwrite_output_dir", SchemaFieldKind.Boolean),
        new("do_train", SchemaFieldKind.Boolean),
        new("do_eval", SchemaFieldKind.Boolean),
        new("eval_strategy", SchemaFieldKind.Text),
        new("eval_steps", SchemaFieldKind.Number),
        new("eval_on_start", SchemaFieldKind.Boolean),
        new("per_device_train_batch_size", SchemaFieldKind.Integer),
        new("per_device_eval_batch_size", SchemaFieldKind.Integer),
        new("gradient_accumulation_steps", SchemaFieldKind.Integer),
        new("learning_rate", SchemaFieldKind.Number),
        new("weight_decay", SchemaFieldKind.Number),
        new("adam_beta1", SchemaFieldKind.Number),
        new("adam_beta2", SchemaFieldKind.Number),
        new("adam_epsilon", SchemaFieldKind.Number),
        new("max_grad_norm", SchemaFieldKind.Number),
        new("num_train_epochs", SchemaFieldKind.Number),
        new("max_steps", SchemaFieldKind.Integer),
        new("lr_scheduler_type", SchemaFieldKind.Text),
        new("lr_scheduler_kwargs", SchemaFieldKind.Map),
        new("warmup_ratio", SchemaFieldKind.Number),
        new("warmup_steps", SchemaFieldKind.Integer),
        new("logging_strategy", SchemaFieldKind.Text),
        new("logging_steps", SchemaFieldKind.Number),
        new("logging_first_step", SchemaFieldKind.Boolean),
        new("logging_dir", SchemaFieldKind.Text),
        new("save_strategy", SchemaFieldKind.Text),
        new("save_steps", SchemaFieldKind.Number),
        new("save_total_limit", SchemaFieldKind.Integer),
        new("seed", SchemaFieldKind.Integer),
        new("data_seed", SchemaFieldKind.Integer),
        new("bf16", SchemaFieldKind.Boolean),
        new("dataloader_drop_last", SchemaFieldKind.Boolean),
        new("gradient_checkpointing", SchemaFieldKind.Boolean),
        new("load_best_model_at_end", SchemaFieldKind.Boolean),
        new("metric_for_best_model", SchemaFieldKind.Text),
        new("greater_is_better", SchemaFieldKind.Boolean),
        new("early_stopping_patience", SchemaFieldKind.Integer),
        new("early_stopping_threshold", SchemaFieldKind.Number),
        new("resume_from_checkpoint", SchemaFieldKind.Text),
        new("report_to", SchemaFieldKind.Text),
        new("optim", SchemaFieldKind.Text),
        new("run_name", SchemaFieldKind.Text)
    ];

    private static readonly Dictionary<string, SchemaField> ByMetadataName =
        Fields.ToDictionary(f => f.MetadataName, StringComparer.OrdinalIgnoreCase);

    /// <summary>The field behind an item metadata name (case-insensitive, as MSBuild metadata names are).</summary>
    public static SchemaField? FindByMetadataName(string metadataName) =>
        ByMetadataName.TryGetValue(metadataName, out var field) ? field : null;

    /// <summary>The metadata name closest to <paramref name="unknown"/> when it is close enough to be a typo.</summary>
    public static string? NearestMetadataName(string unknown)
    {
        var best = Fields
            .Select(f => (f.MetadataName, Distance: EditDistance(unknown.ToLowerInvariant(), f.MetadataName.ToLowerInvariant())))
            .OrderBy(p => p.Distance)
            .First();
        return best.Distance > 0 && best.Distance <= Math.Min(2, unknown.Length / 4) ? best.MetadataName : null;
    }

    private static int EditDistance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) previous[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }
}
