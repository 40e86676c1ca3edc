using TorchSharp;

namespace Lm.Runtime.Models.Lora;

/// <summary>
/// What a job's model arguments ask of LoRA, applied to a freshly loaded base model: <c>adapter_name_or_path</c>
/// loads a PEFT adapter folder (PEFT's <c>PeftModel.from_pretrained</c>, <c>is_trainable</c> when training),
/// else <c>use_peft</c> adds a new adapter from the <c>lora_*</c> arguments (TRL's <c>get_peft_config</c> +
/// <c>get_peft_model</c>). One call site in the job runner; evaluation, generation and fill-mask share it.
/// </summary>
public static class LoraSetup
{
    /// <summary>Whether the arguments ask for an adapter (so the base trains frozen and one weight copy suffices).</summary>
    public static bool Requested(ModelArguments args) => args.UsePeft || !string.IsNullOrWhiteSpace(args.AdapterNameOrPath);

    /// <summary>
    /// Applies the adapter the arguments ask for to <paramref name="model"/>; null when they ask for none. A new
    /// adapter's <c>lora_A</c> is drawn from the torch generator seeded with <paramref name="seed"/>.
    /// </summary>
    public static LoraModel? Apply(LanguageModel model, ModelArguments args, bool training, long seed)
    {
        if (!string.IsNullOrWhiteSpace(args.AdapterNameOrPath))
            return LoraModel.Load(model, args.AdapterNameOrPath, isTrainable: training);
        if (!args.UsePeft) return null;
        torch.manual_seed(seed);
        string? taskType = model.Objective == TrainingObjective.CausalLm ? "CAUSAL_LM" : null;
        return LoraModel.Apply(model, LoraConfig.FromArguments(args, taskType));
    }
}
