namespace Lm.Runtime.Errors;

public static partial class ErrorCodes
{
    /// <summary>
    /// A Hugging Face <c>TrainingArguments</c> key that lm-tune does not implement is set to a value that would change
    /// training (<c>fp16: true</c>, <c>neftune_noise_alpha: 5</c>, ...): refused rather than silently dropped.
    /// </summary>
    public const string HfArgumentNotImplemented = "LM0530";
    /// <summary><c>config_overrides</c> or <c>config_name</c> with a pretrained model: run_clm.py refuses the one, lm-tune would ignore the other.</summary>
    public const string ConfigOptionWithPretrainedModel = "LM0531";
}
