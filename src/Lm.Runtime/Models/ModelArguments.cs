using System.Text.Json.Serialization;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Models;

/// <summary>run_clm.py / run_mlm.py <c>ModelArguments</c>, plus lm-tune's objective and device.</summary>
public sealed class ModelArguments
{
    /// <summary>A local HF folder, a hub cache entry, a hub id, or a preset name (e.g. <c>tiny-gpt2</c>). CLI alias: <c>--model</c>.</summary>
    [JsonPropertyName("model_name_or_path")] public string? ModelNameOrPath { get; set; }
    /// <summary>Architecture for training from scratch when no model is given (gpt2, roberta, bert).</summary>
    [JsonPropertyName("model_type")] public string? ModelType { get; set; }
    /// <summary>A config.json (or preset name) to build the model from instead of the model's own config.</summary>
    [JsonPropertyName("config_name")] public string? ConfigName { get; set; }
    /// <summary>Comma-separated <c>key=value</c> overrides of the config, as run_clm.py (<c>n_embd=10,resid_pdrop=0.2</c>).</summary>
    [JsonPropertyName("config_overrides")] public string? ConfigOverrides { get; set; }
    /// <summary>Tokenizer folder when it is not the model's.</summary>
    [JsonPropertyName("tokenizer_name")] public string? TokenizerName { get; set; }
    /// <summary>Hub cache folder; <c>$HF_HOME/hub</c> when not set.</summary>
    [JsonPropertyName("cache_dir")] public string? CacheDir { get; set; }
    [JsonPropertyName("model_revision")] public string ModelRevision { get; set; } = "main";
    /// <summary><c>float32</c> (default), <c>bfloat16</c>, or <c>auto</c> (the checkpoint's dtype).</summary>
    [JsonPropertyName("torch_dtype")] public string? TorchDtype { get; set; }
    /// <summary><c>clm</c> or <c>mlm</c>; inferred from the model type when not set (gpt2 → clm; roberta, bert → mlm).</summary>
    [JsonPropertyName("objective")] public string? Objective { get; set; }
    /// <summary><c>auto</c> (CUDA when available), <c>cpu</c> or <c>cuda</c>.</summary>
    [JsonPropertyName("device")] public string Device { get; set; } = "auto";

    /// <summary>
    /// Refuses the config options a pretrained model cannot honour (LM0531), so that no accepted option is ignored:
    /// <c>config_overrides</c> with pretrained weights, which run_clm.py refuses too ("can't be used in combination
    /// with --config_name or --model_name_or_path"), and <c>config_name</c>, which lm-tune does not combine with
    /// pretrained weights (their shapes come from the model's own config.json). Both apply to a model trained from
    /// scratch (<c>--config-name</c>, <c>--model-type</c>); with a <c>tiny-*</c> preset (<paramref name="randomInit"/>),
    /// overrides apply to the preset's config and only a different <c>config_name</c> is refused.
    /// </summary>
    public void CheckConfigOptions(bool randomInit)
    {
        if (!randomInit && !string.IsNullOrWhiteSpace(ConfigOverrides))
            throw new LmException(ErrorCodes.ConfigOptionWithPretrainedModel,
                $"config_overrides '{ConfigOverrides}' cannot change the pretrained model '{ModelNameOrPath}' (its weights fix the shapes), as run_clm.py refuses it; " +
                "drop --model-name-or-path and give --config-name or --model-type to train a model from scratch with overrides");
        if (!string.IsNullOrWhiteSpace(ConfigName) && !string.IsNullOrWhiteSpace(ModelNameOrPath) && ConfigName != ModelNameOrPath)
            throw new LmException(ErrorCodes.ConfigOptionWithPretrainedModel,
                $"config_name '{ConfigName}' cannot replace the config of the model '{ModelNameOrPath}'; " +
                "drop --config-name to fine-tune the model, or drop --model-name-or-path to train from scratch with that config");
    }

    // LoRA (PEFT's LoraConfig under TRL's ModelConfig names; Models/Lora)
    /// <summary>Train a LoRA adapter instead of the full model (TRL's <c>--use_peft</c>); the base stays frozen.</summary>
    [JsonPropertyName("use_peft")] public bool UsePeft { get; set; }
    /// <summary>LoRA rank <c>r</c> (TRL's default 16).</summary>
    [JsonPropertyName("lora_r")] public int LoraR { get; set; } = 16;
    /// <summary>LoRA alpha: the update is scaled by alpha / r (TRL's default 32).</summary>
    [JsonPropertyName("lora_alpha")] public double LoraAlpha { get; set; } = 32;
    /// <summary>Dropout on the adapter's input (TRL's default 0.05).</summary>
    [JsonPropertyName("lora_dropout")] public double LoraDropout { get; set; } = 0.05;
    /// <summary>Comma-separated module names (<c>q_proj,v_proj</c>) or <c>all-linear</c>; unset means PEFT's default for the model type.</summary>
    [JsonPropertyName("lora_target_modules")] public string? LoraTargetModules { get; set; }
    /// <summary>Comma-separated modules trained in full and saved with the adapter (<c>lm_head</c>).</summary>
    [JsonPropertyName("lora_modules_to_save")] public string? LoraModulesToSave { get; set; }
    /// <summary>Rank-stabilised LoRA: scale by alpha / √r.</summary>
    [JsonPropertyName("use_rslora")] public bool UseRslora { get; set; }
    /// <summary>A PEFT adapter folder to apply to the model (evaluate, generate, fill-mask) or to train further (train).</summary>
    [JsonPropertyName("adapter_name_or_path")] public string? AdapterNameOrPath { get; set; }
}
