namespace Lm.Runtime.Configuration;

/// <summary>
/// Trains the job as a LoRA adapter (TRL's <c>use_peft</c>; PEFT's <c>LoraConfig</c> under short C# names): its
/// presence turns LoRA on, the properties set rank, scaling, dropout and targets; each property left out keeps
/// TRL's default (r 16, alpha 32, dropout 0.05; targets: PEFT's default for the model type). Goes with
/// <see cref="FineTuneJobAttribute"/> on the same class, instead of its <c>UsePeft</c>/<c>Lora*</c> arguments: a value
/// set in both places is an error (LM1050). The build's training run then leaves PEFT's adapter files, and the
/// generated <c>Artifacts.LoadModel()</c> returns the base with the adapter applied; docs/lora.md.
/// </summary>
/// <example><code>[FineTuneJob("chat-llama", Model = "tiny-llama")]
/// [ChatDataset(TrainFile = "data/chat.jsonl", AssistantOnlyLoss = true)]
/// [Lora(R = 8, Alpha = 16, TargetModules = "q_proj,v_proj")]
/// public partial class ChatLlama;</code></example>
/// <remarks>
/// The property names are the schema's <c>lora_*</c> names without their prefix (<c>lora_r</c> is <see cref="R"/>),
/// and <c>use_rslora</c> as it is (Lm.Schema's <c>LoraAttributeProperties</c>).
/// </remarks>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class LoraAttribute : Attribute
{
    /// <inheritdoc cref="Lm.Runtime.Models.ModelArguments.LoraR"/>
    public int R { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Models.ModelArguments.LoraAlpha"/>
    public double Alpha { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Models.ModelArguments.LoraDropout"/>
    public double Dropout { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Models.ModelArguments.LoraTargetModules"/>
    public string? TargetModules { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Models.ModelArguments.LoraModulesToSave"/>
    public string? ModulesToSave { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Models.ModelArguments.UseRslora"/>
    public bool UseRslora { get; set; }
}
