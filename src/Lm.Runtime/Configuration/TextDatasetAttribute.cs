namespace Lm.Runtime.Configuration;

/// <summary>
/// The data of a fine-tune job (run_clm.py / run_mlm.py <c>DataTrainingArguments</c> under their C# names):
/// files, text column, block size, validation split, masking. Goes with <see cref="FineTuneJobAttribute"/> on
/// the same class; only the arguments given here are set, the others keep Hugging Face's defaults.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class TextDatasetAttribute : Attribute
{
    /// <inheritdoc cref="Lm.Runtime.Data.DataArguments.DatasetName"/>
    public string? DatasetName { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Data.DataArguments.DatasetConfigName"/>
    public string? DatasetConfigName { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Data.DataArguments.TrainFile"/>
    public string? TrainFile { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Data.DataArguments.ValidationFile"/>
    public string? ValidationFile { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Data.DataArguments.TextColumn"/>
    public string? TextColumn { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Data.DataArguments.MaxTrainSamples"/>
    public int MaxTrainSamples { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Data.DataArguments.MaxEvalSamples"/>
    public int MaxEvalSamples { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Data.DataArguments.BlockSize"/>
    public int BlockSize { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Data.DataArguments.MaxSeqLength"/>
    public int MaxSeqLength { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Data.DataArguments.OverwriteCache"/>
    public bool OverwriteCache { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Data.DataArguments.ValidationSplitPercentage"/>
    public int ValidationSplitPercentage { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Data.DataArguments.PreprocessingNumWorkers"/>
    public int PreprocessingNumWorkers { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Data.DataArguments.KeepLinebreaks"/>
    public bool KeepLinebreaks { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Data.DataArguments.LineByLine"/>
    public bool LineByLine { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Data.DataArguments.PadToMaxLength"/>
    public bool PadToMaxLength { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Data.DataArguments.MlmProbability"/>
    public double MlmProbability { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Data.DataArguments.WholeWordMask"/>
    public bool WholeWordMask { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Data.DataArguments.PadToMultipleOf"/>
    public int PadToMultipleOf { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Data.DataArguments.GroupBatchSize"/>
    public int GroupBatchSize { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Data.DataArguments.GlobalConcatenation"/>
    public bool GlobalConcatenation { get; set; }
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
}
