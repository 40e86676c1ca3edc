namespace Lm.Runtime.Configuration;

/// <summary>
/// Declares a fine-tune job on a <c>partial</c> class: its name (the <c>Include</c> of the project's
/// <c>&lt;LanguageModelFineTune&gt;</c> item) and the model arguments of run_clm.py / run_mlm.py. The source
/// generator checks every value at compile time and adds typed members to the class: <c>TrainingArguments</c>,
/// <c>CreateJob()</c>, dataset loaders and <c>Artifacts</c>. Data and training arguments go in
/// <see cref="TextDatasetAttribute"/> and <see cref="TrainingAttribute"/> on the same class.
/// </summary>
/// <example>
/// <code>
/// [FineTuneJob("wiki-gpt2", Model = "distilgpt2")]
/// [TextDataset(TrainFile = "data/train.txt", ValidationFile = "data/validation.txt", BlockSize = 128)]
/// [Training(LearningRate = 2e-5, WeightDecay = 0.01, EvalStrategy = "epoch")]
/// public partial class WikiGpt2 { }
/// </code>
/// </example>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class FineTuneJobAttribute : Attribute
{
    /// <param name="name">The job name: the <c>Include</c> of its <c>&lt;LanguageModelFineTune&gt;</c> item, also the folder name of its outputs.</param>
    public FineTuneJobAttribute(string name)
    {
        Name = name;
    }

    /// <summary>The job name.</summary>
    public string Name { get; }

    /// <inheritdoc cref="Lm.Runtime.Models.ModelArguments.ModelNameOrPath"/>
    public string? Model { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Models.ModelArguments.ModelType"/>
    public string? ModelType { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Models.ModelArguments.ConfigName"/>
    public string? ConfigName { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Models.ModelArguments.ConfigOverrides"/>
    public string? ConfigOverrides { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Models.ModelArguments.TokenizerName"/>
    public string? TokenizerName { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Models.ModelArguments.CacheDir"/>
    public string? CacheDir { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Models.ModelArguments.ModelRevision"/>
    public string? ModelRevision { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Models.ModelArguments.TorchDtype"/>
    public string? TorchDtype { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Models.ModelArguments.Objective"/>
    public string? Objective { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Models.ModelArguments.Device"/>
    public string? Device { get; set; }

    // LoRA adapters (PEFT's LoraConfig under TRL's ModelConfig names)
    /// <inheritdoc cref="Lm.Runtime.Models.ModelArguments.UsePeft"/>
    public bool UsePeft { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Models.ModelArguments.LoraR"/>
    public int LoraR { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Models.ModelArguments.LoraAlpha"/>
    public double LoraAlpha { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Models.ModelArguments.LoraDropout"/>
    public double LoraDropout { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Models.ModelArguments.LoraTargetModules"/>
    public string? LoraTargetModules { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Models.ModelArguments.LoraModulesToSave"/>
    public string? LoraModulesToSave { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Models.ModelArguments.UseRslora"/>
    public bool UseRslora { get; set; }
    /// <inheritdoc cref="Lm.Runtime.Models.ModelArguments.AdapterNameOrPath"/>
    public string? AdapterNameOrPath { get; set; }
}
