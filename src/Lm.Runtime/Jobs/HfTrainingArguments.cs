using System.Text.Json;
using System.Text.Json.Nodes;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Jobs;

/// <summary>
/// Reads a Hugging Face <c>TrainingArguments.to_json_string()</c> dump (or a run_clm.py job file holding HF keys)
/// as a job: every key of current transformers' <c>TrainingArguments</c> is known here with its default. A key the
/// schema has is used (with HF's spellings of its value translated: <c>report_to: []</c>, <c>optim:
/// "adamw_torch_fused"</c>, <c>warmup_steps: 0.1</c>); a key lm-tune does not implement is dropped and named in one
/// warning when its value cannot change what training computes, and refused with LM0530 when it would
/// (<c>fp16: true</c>, <c>neftune_noise_alpha: 5</c>), so nothing that changes training is ever silently dropped.
/// Keys HF does not have either stay in the job and are LM0402 there (a typo is never ignored).
/// </summary>
public static class HfTrainingArguments
{
    /// <summary>What a key lm-tune does not implement does when it is not at HF's default.</summary>
    public enum Effect
    {
        /// <summary>Nothing lm-tune computes depends on it (logging, devices, distributed set-up, speed): dropped at any value.</summary>
        Inert,
        /// <summary>It changes the training, the evaluation or what is saved: dropped at HF's default, LM0530 at any other value.</summary>
        ChangesTraining,
    }

    /// <summary>One key of HF's <c>TrainingArguments</c> that is not a schema field, with the value <c>to_json_string()</c> writes by default.</summary>
    public sealed record Key(string Name, string DefaultJson, Effect Effect);

    /// <summary>
    /// Every <c>TrainingArguments</c> field of transformers 5 (and the 4.x fields a dump from 4.40–4.57 still carries)
    /// that is not a schema field, with its default as <c>to_json_string()</c> writes it after <c>__post_init__</c>
    /// (<c>fsdp</c> → <c>[]</c>, <c>debug</c> → <c>[]</c>, tokens → <c>"&lt;HUB_TOKEN&gt;"</c>).
    /// </summary>
    public static IReadOnlyList<Key> UnimplementedKeys { get; } =
    [
        // transformers 5
        new("optim_args", "null", Effect.ChangesTraining),
        new("optim_target_modules", "null", Effect.ChangesTraining),
        new("average_tokens_across_devices", "true", Effect.Inert),
        new("fp16", "false", Effect.ChangesTraining),
        new("bf16_full_eval", "false", Effect.ChangesTraining),
        new("fp16_full_eval", "false", Effect.ChangesTraining),
        new("tf32", "null", Effect.ChangesTraining),
        new("gradient_checkpointing_kwargs", "null", Effect.Inert),
        new("torch_compile", "false", Effect.Inert),
        new("torch_compile_backend", "null", Effect.Inert),
        new("torch_compile_mode", "null", Effect.Inert),
        new("use_liger_kernel", "false", Effect.ChangesTraining),
        new("liger_kernel_config", "null", Effect.Inert),
        new("use_cache", "false", Effect.Inert),
        new("neftune_noise_alpha", "null", Effect.ChangesTraining),
        new("torch_empty_cache_steps", "null", Effect.Inert),
        new("auto_find_batch_size", "false", Effect.ChangesTraining),
        new("log_on_each_node", "true", Effect.Inert),
        new("logging_nan_inf_filter", "true", Effect.Inert),
        new("include_num_input_tokens_seen", "\"no\"", Effect.Inert),
        new("log_level", "\"passive\"", Effect.Inert),
        new("log_level_replica", "\"warning\"", Effect.Inert),
        new("disable_tqdm", "false", Effect.Inert),
        new("project", "\"huggingface\"", Effect.Inert),
        new("trackio_space_id", "\"trackio\"", Effect.Inert),
        new("eval_delay", "0", Effect.ChangesTraining),
        new("prediction_loss_only", "false", Effect.Inert),
        new("eval_do_concat_batches", "true", Effect.Inert),
        new("eval_use_gather_object", "false", Effect.Inert),
        new("eval_accumulation_steps", "null", Effect.Inert),
        new("include_for_metrics", "[]", Effect.Inert),
        new("batch_eval_metrics", "false", Effect.Inert),
        new("save_only_model", "false", Effect.ChangesTraining),
        new("save_on_each_node", "false", Effect.Inert),
        new("enable_jit_checkpoint", "false", Effect.Inert),
        new("hub_always_push", "false", Effect.Inert),
        new("ignore_data_skip", "false", Effect.ChangesTraining),
        new("restore_callback_states_from_checkpoint", "false", Effect.Inert),
        new("full_determinism", "false", Effect.Inert),
        new("use_cpu", "false", Effect.ChangesTraining),
        new("accelerator_config",
            "{\"split_batches\": false, \"dispatch_batches\": null, \"even_batches\": true, \"use_seedable_sampler\": true, \"non_blocking\": false, \"gradient_accumulation_kwargs\": null}",
            Effect.Inert),
        new("parallelism_config", "null", Effect.ChangesTraining),
        new("dataloader_num_workers", "0", Effect.Inert),
        new("dataloader_pin_memory", "true", Effect.Inert),
        new("dataloader_persistent_workers", "false", Effect.Inert),
        new("dataloader_prefetch_factor", "null", Effect.Inert),
        new("remove_unused_columns", "true", Effect.Inert),
        new("label_names", "null", Effect.Inert),
        new("train_sampling_strategy", "\"random\"", Effect.ChangesTraining),
        new("length_column_name", "\"length\"", Effect.Inert),
        new("ddp_find_unused_parameters", "null", Effect.Inert),
        new("ddp_bucket_cap_mb", "null", Effect.Inert),
        new("ddp_broadcast_buffers", "null", Effect.Inert),
        new("ddp_backend", "null", Effect.Inert),
        new("ddp_timeout", "1800", Effect.Inert),
        new("fsdp", "[]", Effect.ChangesTraining),
        new("fsdp_config", "{\"min_num_params\": 0, \"xla\": false, \"xla_fsdp_v2\": false, \"xla_fsdp_grad_ckpt\": false}", Effect.Inert),
        new("deepspeed", "null", Effect.ChangesTraining),
        new("debug", "[]", Effect.Inert),
        new("skip_memory_metrics", "true", Effect.Inert),
        new("do_predict", "false", Effect.ChangesTraining),
        new("local_rank", "-1", Effect.Inert),
        // transformers 4.x only
        new("per_gpu_train_batch_size", "null", Effect.ChangesTraining),
        new("per_gpu_eval_batch_size", "null", Effect.ChangesTraining),
        new("save_safetensors", "true", Effect.ChangesTraining),
        new("no_cuda", "false", Effect.ChangesTraining),
        new("use_mps_device", "false", Effect.Inert),
        new("jit_mode_eval", "false", Effect.Inert),
        new("use_ipex", "false", Effect.Inert),
        new("half_precision_backend", "\"auto\"", Effect.Inert),
        new("fp16_opt_level", "\"O1\"", Effect.Inert),
        new("fp16_backend", "\"auto\"", Effect.Inert),
        new("tpu_num_cores", "null", Effect.Inert),
        new("tpu_metrics_debug", "false", Effect.Inert),
        new("past_index", "-1", Effect.ChangesTraining),
        new("group_by_length", "false", Effect.ChangesTraining),
        new("adafactor", "false", Effect.ChangesTraining),
        new("fsdp_min_num_params", "0", Effect.Inert),
        new("fsdp_transformer_layer_cls_to_wrap", "null", Effect.Inert),
        new("use_legacy_prediction_loop", "false", Effect.Inert),
        new("push_to_hub_model_id", "null", Effect.Inert),
        new("push_to_hub_organization", "null", Effect.Inert),
        new("push_to_hub_token", "\"<PUSH_TO_HUB_TOKEN>\"", Effect.Inert),
        new("mp_parameters", "\"\"", Effect.Inert),
        new("torchdynamo", "null", Effect.Inert),
        new("ray_scope", "\"last\"", Effect.Inert),
        new("dispatch_batches", "null", Effect.Inert),
        new("split_batches", "null", Effect.Inert),
        new("include_tokens_per_second", "false", Effect.Inert),
        new("include_inputs_for_metrics", "false", Effect.Inert),
        new("tp_size", "0", Effect.Inert),
        new("evaluation_strategy", "null", Effect.ChangesTraining),
    ];

    private static readonly Dictionary<string, Key> ByName = UnimplementedKeys.ToDictionary(k => k.Name, StringComparer.Ordinal);

    /// <summary>Whether <paramref name="name"/> is a <c>TrainingArguments</c> key lm-tune reads past (see <see cref="UnimplementedKeys"/>).</summary>
    public static bool IsUnimplementedKey(string name) => ByName.ContainsKey(name);

    /// <summary>The outcome of <see cref="Translate"/>: the job's JSON and the HF keys that were dropped.</summary>
    /// <param name="Job">The JSON with schema keys only (plus any key neither HF nor lm-tune knows, for LM0402).</param>
    /// <param name="Ignored">Dropped keys, in the file's order; empty when there were none.</param>
    public sealed record Translation(JsonObject Job, IReadOnlyList<string> Ignored)
    {
        /// <summary>The one warning that names every dropped key, or null when none was dropped.</summary>
        public string? Warning => Ignored.Count == 0 ? null :
            $"{Ignored.Count} Hugging Face TrainingArguments key(s) that lm-tune does not implement were ignored at values that do " +
            $"not change training: {string.Join(", ", Ignored)}";
    }

    /// <summary>
    /// Translates HF keys and values of <paramref name="json"/> (not changed) into the schema's; throws LM0530 naming
    /// every key whose value lm-tune cannot honour.
    /// </summary>
    public static Translation Translate(JsonObject json)
    {
        var job = new JsonObject();
        var ignored = new List<string>();
        var refused = new List<string>();
        foreach (var (name, value) in json)
        {
            if (FineTuneJob.FindField(name) is { } field && field.Name == name)
            {
                if (TranslateSchemaValue(field, value, job) is { } problem) refused.Add(problem);
                continue;
            }
            if (!ByName.TryGetValue(name, out var key))
            {
                job[name] = value?.DeepClone();
                continue;
            }
            if (name is "use_cpu" or "no_cuda" && value is JsonValue cpu && cpu.GetValueKind() == JsonValueKind.True)
            {
                // HF's use_cpu: train on the CPU even when a GPU is there; lm-tune's device says the same.
                if (json.ContainsKey("device")) ignored.Add(name);
                else job["device"] = "cpu";
                continue;
            }
            if (name == "tf32" && value is JsonValue tf32 && tf32.GetValueKind() == JsonValueKind.False)
            {
                // tf32 off is what lm-tune does: full float32 matrix products.
                ignored.Add(name);
                continue;
            }
            if (key.Effect == Effect.Inert || IsDefault(key, value)) ignored.Add(name);
            else refused.Add($"{name} = {value?.ToJsonString() ?? "null"} (HF's default {key.DefaultJson})");
        }
        if (refused.Count > 0)
            throw new LmException(ErrorCodes.HfArgumentNotImplemented,
                "lm-tune does not implement these Hugging Face TrainingArguments settings, and their values would change training: " +
                string.Join("; ", refused) + ". Remove them or set them to HF's default (docs/training.md lists what lm-tune implements)");
        return new Translation(job, ignored);
    }

    /// <summary>Adds a schema key's value to <paramref name="job"/>, rewriting HF's spellings; returns a refusal or null.</summary>
    private static string? TranslateSchemaValue(JobField field, JsonNode? value, JsonObject job)
    {
        string name = field.Name;
        switch (name)
        {
            case "report_to" when value is JsonArray integrations:
            {
                // __post_init__ turns "none" into [] and "all" into the installed integrations; only TensorBoard is here,
                // and the others only report (they do not change training).
                var names = integrations.Select(n => n?.GetValueKind() == JsonValueKind.String ? n.GetValue<string>() : n?.ToJsonString()).ToList();
                job[name] = names.Contains("all") ? "all" : names.Contains("tensorboard") ? "tensorboard" : "none";
                return null;
            }
            case "optim" when value is JsonValue v && v.GetValueKind() == JsonValueKind.String && v.GetValue<string>() == "adamw_torch_fused":
                // The fused kernel computes torch's AdamW update (HF's default from torch 2.8 on); only the speed differs.
                job[name] = "adamw_torch";
                return null;
            case "warmup_steps" when value is JsonValue w && w.GetValueKind() == JsonValueKind.Number
                                     && w.GetValue<double>() is > 0 and < 1 and var ratio:
                // transformers 5: a warmup_steps below 1 is a ratio of the total steps (ceil(total * ratio)), as warmup_ratio.
                job["warmup_ratio"] = ratio;
                return null;
        }
        if (name == "hub_token" && value is JsonValue token && token.GetValueKind() == JsonValueKind.String && token.GetValue<string>() == "<HUB_TOKEN>")
            return null; // to_json_string() hides the token behind this placeholder: no token was given.
        if (value is null && !field.Nullable)
            return null; // HF writes null where lm-tune's default is its value (lr_scheduler_kwargs, warmup_ratio in 5.x): keep lm-tune's.
        job[name] = value?.DeepClone();
        return null;
    }

    private static bool IsDefault(Key key, JsonNode? value)
    {
        if (key.Name.EndsWith("_token", StringComparison.Ordinal)
            && value is JsonValue token && token.GetValueKind() == JsonValueKind.String && token.GetValue<string>() == $"<{key.Name.ToUpperInvariant()}>")
            return true;
        return SameJson(JsonNode.Parse(key.DefaultJson), value);
    }

    /// <summary>JSON equality with numbers compared by value (Python writes <c>0</c> and <c>0.0</c> for the same default).</summary>
    internal static bool SameJson(JsonNode? a, JsonNode? b)
    {
        if (a is null || b is null) return a is null && b is null;
        if (a.GetValueKind() != b.GetValueKind()) return false;
        return a switch
        {
            JsonObject ao => b is JsonObject bo && ao.Count == bo.Count
                && ao.All(p => bo.TryGetPropertyValue(p.Key, out var other) && SameJson(p.Value, other)),
            JsonArray aa => b is JsonArray ba && aa.Count == ba.Count && aa.Zip(ba).All(p => SameJson(p.First, p.Second)),
            _ when a.GetValueKind() == JsonValueKind.Number =>
                a.GetValue<double>().Equals(b.GetValue<double>()),
            _ => a.ToJsonString() == b.ToJsonString(),
        };
    }

    /// <summary>HfArgumentParser's <c>string_to_bool</c>: yes/true/t/y/1 and no/false/f/n/0, any case; null for anything else.</summary>
    public static bool? ParseBool(string text) => text.Trim().ToLowerInvariant() switch
    {
        "yes" or "true" or "t" or "y" or "1" => true,
        "no" or "false" or "f" or "n" or "0" => false,
        _ => null,
    };
}
