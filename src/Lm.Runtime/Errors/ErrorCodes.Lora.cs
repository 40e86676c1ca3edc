namespace Lm.Runtime.Errors;

public static partial class ErrorCodes
{
    /// <summary>LoRA arguments or an adapter_config.json are invalid: not a LoRA adapter, a value out of range or of the wrong type.</summary>
    public const string LoraConfigInvalid = "LM0800";

    /// <summary>The LoRA target modules (or modules_to_save) match no module of the model, or match one that is not a linear layer.</summary>
    public const string LoraTargetNotFound = "LM0801";

    /// <summary>adapter_model.safetensors does not fit the adapter_config.json and the model: keys missing or unexpected, or shapes differ.</summary>
    public const string AdapterWeightsMismatch = "LM0802";

    /// <summary>The adapter folder does not exist or lacks adapter_config.json / adapter_model.safetensors.</summary>
    public const string AdapterFolderUnreadable = "LM0803";

    /// <summary>The adapter uses a PEFT feature lm-tune does not implement (DoRA, LoRA biases, rank patterns, layer selection, a tied module in modules_to_save).</summary>
    public const string LoraFeatureUnsupported = "LM0804";
}
