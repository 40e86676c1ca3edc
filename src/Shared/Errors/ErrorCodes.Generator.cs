namespace Lm.Runtime.Errors;

// LM1xxx: the source generator. Compiled into Lm.Generators (internal; its descriptor table takes the ids from here)
// and into Lm.Runtime (public), which generated code and the docs' table check read.
static partial class ErrorCodes
{
    // Compile-time diagnostics of the source generator.

    /// <summary>An argument that must be positive (learning rate, batch size, epochs, block size, ...) is not.</summary>
    public const string ValueMustBePositive = "LM1001";
    /// <summary>An argument is outside its range (mlm_probability in (0, 1), adam_beta1 in [0, 1), ...).</summary>
    public const string ValueOutOfRange = "LM1002";
    /// <summary>A text argument is not one of its choices (scheduler, strategy, objective, device, ...).</summary>
    public const string UnknownChoice = "LM1003";
    /// <summary>eval_strategy asks for evaluation but the job has no validation data.</summary>
    public const string EvalWithoutValidationData = "LM1004";
    /// <summary>The objective does not fit the family of a known model preset (gpt2 → clm; roberta, bert → mlm).</summary>
    public const string ObjectiveDoesNotFitModel = "LM1005";
    /// <summary>A [FineTuneJob] class (or a class containing it) is not partial, or is generic.</summary>
    public const string ConfigClassNotPartial = "LM1006";
    /// <summary>A &lt;LanguageModelFineTune&gt; item's Config names no [FineTuneJob] class.</summary>
    public const string ItemWithoutClass = "LM1007";
    /// <summary>A [FineTuneJob] class has no &lt;LanguageModelFineTune&gt; item in a project that declares items.</summary>
    public const string ClassWithoutItem = "LM1008";
    /// <summary>Item metadata and the class give different values for the same argument.</summary>
    public const string ItemValueConflict = "LM1009";
    /// <summary>Two [FineTuneJob] classes declare the same job name.</summary>
    public const string DuplicateJobName = "LM1010";
    /// <summary>A job name is empty or has characters that cannot name a folder.</summary>
    public const string InvalidJobName = "LM1011";
    /// <summary>A value cannot be read as its argument's type (item metadata text, lr_scheduler_kwargs pairs).</summary>
    public const string MalformedValue = "LM1012";
    /// <summary>Arguments that are valid alone contradict each other (load_best_model_at_end without evaluation, ...).</summary>
    public const string InconsistentArguments = "LM1013";
    /// <summary>An item's Config names a class that configures a different job name.</summary>
    public const string ItemJobNameMismatch = "LM1014";
    /// <summary>[TextDataset], [ChatDataset], [Training] or [Lora] is on a class without [FineTuneJob].</summary>
    public const string AttributeWithoutJob = "LM1015";
    /// <summary>TrainFile or ValidationFile has an extension no data source reads.</summary>
    public const string UnsupportedDataFile = "LM1016";
    /// <summary>An item's Config is a simple name that several [FineTuneJob] classes share.</summary>
    public const string AmbiguousConfigClass = "LM1017";
    /// <summary>A class sets OutputDir for a job that a &lt;LanguageModelFineTune&gt; item trains: the item decides it.</summary>
    public const string OutputDirInClassOfItem = "LM1018";

    /// <summary>LoraTargetModules names a module the model's architecture does not have (or no linear layer of any architecture).</summary>
    public const string UnknownLoraTarget = "LM1030";

    // The [Lora] attribute.

    /// <summary>A LoRA field is set both by [Lora] and by [FineTuneJob]'s Lora*/UseRslora argument on the same class.</summary>
    public const string LoraValueSetTwice = "LM1050";
    /// <summary>[FineTuneJob(UsePeft = false)] on a class with [Lora], whose presence turns LoRA on.</summary>
    public const string LoraWithUsePeftFalse = "LM1051";

    // Chat and instruction data.

    /// <summary>A chat or instruction dataset_format with a data file that holds no such rows (.txt, .csv; conversations in .parquet).</summary>
    public const string ChatDataFileType = "LM1040";
    /// <summary>assistant_only_loss, completion_only_loss or packing with dataset_format text, which ignores them.</summary>
    public const string ChatOptionOnTextData = "LM1041";

    // Distributed runs ([Distributed], docs/scale-out.md).

    /// <summary>A [Distributed] value out of range: NumProcesses or NumMachines below 1, Deepspeed not zero2/zero3, Launcher not train/export.</summary>
    public const string DistributedValueInvalid = "LM1060";
    /// <summary>[Distributed] sets both Fsdp and Deepspeed, two ways of sharding the model.</summary>
    public const string DistributedShardingConflict = "LM1061";

    // Run-time errors of generated members.

    /// <summary>A job's results (model, all_results.json) are not there: the job has not been trained yet.</summary>
    public const string JobResultsMissing = "LM1101";
}
