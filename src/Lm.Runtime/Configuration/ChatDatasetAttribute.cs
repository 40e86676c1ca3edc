namespace Lm.Runtime.Configuration;

/// <summary>
/// The chat or instruction data of a fine-tune job (TRL's SFTTrainer data arguments under their C# names): rows of
/// <c>messages</c>, <c>prompt</c>/<c>completion</c> or <c>instruction</c>/<c>input</c>/<c>output</c>, the chat template,
/// assistant-only or completion-only loss, packing. Goes with <see cref="FineTuneJobAttribute"/> on the same class,
/// instead of (or with) <see cref="TextDatasetAttribute"/>, which sets the same arguments; docs/chat.md.
/// </summary>
/// <example><code>[FineTuneJob("chat-llama", Model = "tiny-llama")]
/// [ChatDataset(TrainFile = "data/chat.jsonl", AssistantOnlyLoss = true)]
/// public partial class ChatLlama;</code></example>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class ChatDatasetAttribute : Attribute
{
    /// <inheritdoc cref="Lm.Runtime.Data.DataArguments.TrainFile"/>
    public string? TrainFile { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Data.DataArguments.ValidationFile"/>
    public string? ValidationFile { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Data.DataArguments.DatasetFormat"/>
    public string? DatasetFormat { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Data.DataArguments.ChatTemplatePath"/>
    public string? ChatTemplatePath { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Data.DataArguments.AssistantOnlyLoss"/>
    public bool AssistantOnlyLoss { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Data.DataArguments.CompletionOnlyLoss"/>
    public bool CompletionOnlyLoss { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Data.DataArguments.Packing"/>
    public bool Packing { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Data.DataArguments.PackingStrategy"/>
    public string? PackingStrategy { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Data.DataArguments.MaxSeqLength"/>
    public int MaxSeqLength { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Data.DataArguments.MaxTrainSamples"/>
    public int MaxTrainSamples { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Data.DataArguments.MaxEvalSamples"/>
    public int MaxEvalSamples { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Data.DataArguments.ValidationSplitPercentage"/>
    public int ValidationSplitPercentage { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Data.DataArguments.PadToMultipleOf"/>
    public int PadToMultipleOf { get; set; }
}
