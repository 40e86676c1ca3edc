using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Lm.Runtime.Checkpoints;
using Lm.Runtime.Data;
using Lm.Runtime.Data.Chat;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Jobs.Export;

/// <summary>
/// A LoRA or chat/instruction job exported for TRL: <c>sft_config.yaml</c> with the keys <c>trl sft --config</c>
/// reads (TRL's <c>ScriptArguments</c>, <c>SFTConfig</c> and <c>ModelConfig</c>, which carries PEFT's LoRA
/// settings). SFTConfig changes several of TrainingArguments' defaults (learning rate, logging steps, gradient
/// checkpointing, bf16), so every training value is written, not only those that differ.
/// </summary>
public static class TrlExport
{
    /// <summary>The TRL release the names and defaults were taken from.</summary>
    public const string TrlVersion = "0.24.0";

    public const string ConfigFile = "sft_config.yaml";

    /// <summary>TRL's <c>ModelConfig</c> fields an lm-tune job can set.</summary>
    public static readonly IReadOnlySet<string> ModelConfig = new HashSet<string>(StringComparer.Ordinal)
    {
        "model_name_or_path", "model_revision", "dtype", "use_peft", "lora_r", "lora_alpha", "lora_dropout",
        "lora_target_modules", "lora_modules_to_save", "use_rslora",
    };

    /// <summary>TRL's <c>ScriptArguments</c> fields an lm-tune job can set.</summary>
    public static readonly IReadOnlySet<string> ScriptArguments = new HashSet<string>(StringComparer.Ordinal)
    {
        "dataset_name", "dataset_config", "dataset_train_split", "dataset_test_split",
    };

    /// <summary><c>SFTConfig</c>'s own fields (besides TrainingArguments') an lm-tune job can set.</summary>
    public static readonly IReadOnlySet<string> SftFields = new HashSet<string>(StringComparer.Ordinal)
    {
        "max_length", "packing", "packing_strategy", "assistant_only_loss", "completion_only_loss", "chat_template_path",
        "dataset_text_field",
    };

    private static readonly string[] ChatFormats = { "messages", "prompt_completion", "instruction" };

    /// <summary>Whether the job is TRL's kind: LoRA, chat or instruction rows, packing or a chat template.</summary>
    public static bool Applies(JsonObject values) =>
        values["use_peft"] is JsonValue peft && peft.GetValue<bool>()
        || values["dataset_format"] is JsonValue format && ChatFormats.Contains(format.GetValue<string>())
        || values["packing"] is JsonValue packing && packing.GetValue<bool>()
        || values["chat_template_path"] is not null
        || values["assistant_only_loss"] is not null
        || values["completion_only_loss"] is not null;

    /// <summary>
    /// The keys of <c>sft_config.yaml</c>, or LM0960 naming what TRL cannot express. <c>notes</c> receives what the
    /// user should know about values lm-tune chose for TRL (a default it could not compute here, one TRL lacks).
    /// </summary>
    public static JsonObject Config(FineTuneJob job, string objective, ExportModel model, InputCopier inputs, ExportOptions options, ICollection<string> notes)
    {
        JsonObject values = job.ToJsonObject();
        JsonObject defaults = new FineTuneJob().ToJsonObject();
        var result = new JsonObject();
        var unexpressible = new List<string>();
        if (objective != "clm") unexpressible.Add("objective mlm (TRL's SFT trains causal LMs)");
        if (JobExporter.IsFreshModel(job))
            unexpressible.Add("a random initialisation (TRL starts from pretrained weights: `lm-tune init` a folder and export with --model it)");

        foreach (var field in FineTuneJob.Fields)
        {
            string name = field.Name;
            JsonNode? value = values[name];
            bool isDefault = JsonNode.DeepEquals(value, defaults[name]);
            switch (name)
            {
                case "model_name_or_path":
                    if (!JobExporter.IsFreshModel(job)) result[name] = inputs.Folder(value!.GetValue<string>(), "model");
                    break;
                case "model_revision":
                    if (!isDefault) result[name] = value!.DeepClone();
                    break;
                case "torch_dtype":
                    if (value is not null) result["dtype"] = value.DeepClone();
                    break;
                case "use_peft" or "lora_r" or "lora_alpha" or "lora_dropout" or "use_rslora":
                    result[name] = value?.DeepClone();
                    break;
                case "lora_target_modules" or "lora_modules_to_save":
                    if (value is null) break;
                    string text = value.GetValue<string>();
                    // PEFT takes "all-linear" as a string and module names as a list.
                    result[name] = text == "all-linear" ? text : new JsonArray(text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(n => (JsonNode?)n).ToArray());
                    break;
                case "objective" or "device" or "output_dir" or "do_train" or "do_eval" or "overwrite_output_dir" or "cache_dir" or "hub_token" or "logging_dir":
                    break; // below, or as for run_clm.py (JobExporter)
                case "train_file" or "validation_file":
                    if (value is not null) result[name == "train_file" ? "dataset_name" : "_validation"] = inputs.DataFolderFile(name, value.GetValue<string>());
                    break;
                case "dataset_name":
                    if (value is not null) result["dataset_name"] = value.DeepClone();
                    break;
                case "dataset_config_name":
                    if (value is not null) result["dataset_config"] = value.DeepClone();
                    break;
                case "max_seq_length":
                    if (value is not null) result["max_length"] = value.DeepClone();
                    break;
                case "text_column":
                    if (value is not null) result["dataset_text_field"] = value.DeepClone();
                    break;
                case "dataset_format":
                    if (value?.GetValue<string>() == "instruction")
                        unexpressible.Add("dataset_format instruction (TRL reads messages, prompt/completion or text rows)");
                    break;
                case "chat_template_path":
                    if (value is not null) result[name] = inputs.File(name, value.GetValue<string>());
                    break;
                case "packing" or "packing_strategy" or "assistant_only_loss" or "completion_only_loss":
                    if (value is not null) result[name] = value.DeepClone();
                    break;
                default:
                    if (HfScriptArguments.TrainingArguments.Contains(name))
                    {
                        if (name == "resume_from_checkpoint" && value is not null)
                            unexpressible.Add("resume_from_checkpoint (lm-tune checkpoints are not TRL's)");
                        else if (value is not null) result[name] = value.DeepClone();
                    }
                    else if (!isDefault)
                    {
                        unexpressible.Add($"{name} (no TRL SFTConfig, ScriptArguments or ModelConfig equivalent)");
                    }
                    break;
            }
        }
        if (unexpressible.Count > 0)
            throw new LmException(ErrorCodes.ExportUnexpressible,
                "the job sets values TRL cannot express: " + string.Join("; ", unexpressible) + ". Leave them at their defaults to export the job");

        // Local data files go to inputs/data/ named after their split, so load_dataset("inputs/data") finds the splits.
        if (result["_validation"] is not null)
        {
            result.Remove("_validation");
            result["dataset_test_split"] = "validation";
        }
        if (job.Data.TrainFile is not null) result["dataset_train_split"] = "train";
        result["output_dir"] = options.Target == ExportTarget.AzureMl ? "outputs" : job.Training.OutputDir;
        result["do_train"] = true;
        result["do_eval"] = job.Training.DoEval || job.Training.EvalStrategy != Training.IntervalStrategy.No;
        if (job.Model.Device == "cpu") result["use_cpu"] = true;
        if (options.DeepSpeedStage is not null) result["deepspeed"] = "ds_config.json";
        EffectiveDefaults(job.Data, model, result, notes);
        return result;
    }

    /// <summary>
    /// Writes lm-tune's effective values where the job left a setting unset and TRL's default differs
    /// (<see cref="SupervisedData"/>): <c>max_length</c> = min(1024, the model's positions) (TRL: 1024, whatever the
    /// model), <c>assistant_only_loss</c> on for conversations (TRL: off), <c>completion_only_loss</c> on for
    /// prompt/completion rows (TRL's None means the same; written so the file says it).
    /// </summary>
    private static void EffectiveDefaults(DataArguments data, ExportModel model, JsonObject result, ICollection<string> notes)
    {
        if (data.MaxSeqLength is null)
        {
            if (model.MaxPositions is int positions)
            {
                result["max_length"] = SupervisedData.MaxLength(data, positions);
            }
            else
            {
                result["max_length"] = SupervisedData.DefaultMaxLength;
                notes.Add($"max_length {SupervisedData.DefaultMaxLength}: lm-tune uses min({SupervisedData.DefaultMaxLength}, the model's positions), " +
                          "and the model's config is not on this machine; set max_seq_length if the model has fewer positions");
            }
        }
        var format = data.DatasetName is null && (data.TrainFile ?? data.ValidationFile) is not null ? SupervisedData.DetectFormat(data) : null;
        bool conversational = format == SupervisedFormat.Messages
            || format == SupervisedFormat.PromptCompletion && SupervisedRows.Read((data.TrainFile ?? data.ValidationFile)!, format.Value).FirstOrDefault() is { IsConversational: true };
        if (data.AssistantOnlyLoss is null)
        {
            result["assistant_only_loss"] = conversational;
            if (conversational) notes.Add("assistant_only_loss true: lm-tune's default for conversations (TRL's is false); set it to false in the job to train on every token");
        }
        if (data.CompletionOnlyLoss is null && format == SupervisedFormat.PromptCompletion) result["completion_only_loss"] = true;
    }

    /// <summary>
    /// YAML with one key per line and JSON flow values (YAML 1.2 reads JSON); floats always carry a '.' so PyYAML,
    /// which TRL's parser uses and which follows YAML 1.1, reads <c>5.0e-05</c> as a float, not the text <c>5e-05</c>.
    /// </summary>
    public static string Yaml(JsonObject config)
    {
        var text = new StringBuilder("# trl sft --config sft_config.yaml (written by lm-tune export)\n");
        foreach (var (key, value) in config.OrderBy(p => p.Key, StringComparer.Ordinal))
            text.Append(key).Append(": ").Append(FlowValue(value)).Append('\n');
        return text.ToString();
    }

    private static string FlowValue(JsonNode? value) => value switch
    {
        null => "null",
        JsonArray array => "[" + string.Join(", ", array.Select(FlowValue)) + "]",
        JsonObject map => "{" + string.Join(", ", map.Select(p => $"{JsonValue.Create(p.Key).ToJsonString()}: {FlowValue(p.Value)}")) + "}",
        JsonValue v when v.TryGetValue(out bool b) => b ? "true" : "false",
        JsonValue v when v.TryGetValue(out string? s) => JsonValue.Create(s)!.ToJsonString(),
        JsonValue v when v.TryGetValue(out long l) => l.ToString(CultureInfo.InvariantCulture),
        JsonValue v when v.TryGetValue(out double d) => YamlFloat(d),
        _ => value.ToJsonString(),
    };

    internal static string YamlFloat(double value)
    {
        if (value == Math.Floor(value) && Math.Abs(value) < 1e15) return value.ToString("0.0", CultureInfo.InvariantCulture);
        string repr = PythonJson.FormatFloat(value);
        int e = repr.IndexOfAny(['e', 'E']);
        if (e >= 0 && !repr[..e].Contains('.')) repr = repr[..e] + ".0" + repr[e..];
        if (e >= 0 && repr[repr.IndexOfAny(['e', 'E']) + 1] is not ('+' or '-')) repr = repr.Replace("e", "e+", StringComparison.Ordinal);
        return repr;
    }
}
