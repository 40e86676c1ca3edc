using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Lm.Runtime.Errors;
using Microsoft.CodeAnalysis;

namespace Lm.Generators.Diagnostics
{
    /// <summary>
    /// Every diagnostic the generator reports, with its stable id (LM1xxx, from the error table in src/Shared/Errors that
    /// Lm.Runtime's <c>ErrorCodes</c> is made of; each has a row, cause and fix, in docs/errors.md).
    /// </summary>
    internal static class DiagnosticDescriptors
    {
        private const string Category = "LmTune";

        public static readonly DiagnosticDescriptor ValueMustBePositive = Error(ErrorCodes.ValueMustBePositive,
            "Argument must be positive",
            "{0} must be positive, got {1}");

        public static readonly DiagnosticDescriptor ValueOutOfRange = Error(ErrorCodes.ValueOutOfRange,
            "Argument is out of range",
            "{0} must be {1}, got {2}");

        public static readonly DiagnosticDescriptor UnknownChoice = Error(ErrorCodes.UnknownChoice,
            "Argument is not one of its choices",
            "{0} must be one of {1}; got '{2}'{3}");

        public static readonly DiagnosticDescriptor EvalWithoutValidationData = Error(ErrorCodes.EvalWithoutValidationData,
            "Evaluation without validation data",
            "{0} '{1}' evaluates, but the job has no validation data: set ValidationFile (or DatasetName), or keep ValidationSplitPercentage above 0");

        public static readonly DiagnosticDescriptor ObjectiveDoesNotFitModel = Error(ErrorCodes.ObjectiveDoesNotFitModel,
            "Objective does not fit the model",
            "Objective '{0}' does not fit model '{1}': {2} models are trained with '{3}'");

        public static readonly DiagnosticDescriptor UnknownLoraTarget = Error(ErrorCodes.UnknownLoraTarget,
            "LoRA target module is not a linear layer of the model",
            "LoRA target module '{0}' is not a linear layer of {1}; use 'all-linear' or names among: {2}");

        public static readonly DiagnosticDescriptor ConfigClassNotPartial = Error(ErrorCodes.ConfigClassNotPartial,
            "Fine-tune job class must be a non-generic partial class",
            "'{0}' has [FineTuneJob] and must be a non-generic partial class (and so must every class containing it), so that the generator can add its typed members");

        public static readonly DiagnosticDescriptor ItemWithoutClass = Error(ErrorCodes.ItemWithoutClass,
            "Fine-tune item names a class that does not exist",
            "<LanguageModelFineTune Include=\"{0}\"> has Config=\"{1}\", but no class with [FineTuneJob] has that name");

        public static readonly DiagnosticDescriptor ClassWithoutItem = Warning(ErrorCodes.ClassWithoutItem,
            "Fine-tune job class has no item",
            "'{0}' configures job '{1}', but the project has no <LanguageModelFineTune Include=\"{1}\"> item, so the build will not train it");

        public static readonly DiagnosticDescriptor ItemValueConflict = Error(ErrorCodes.ItemValueConflict,
            "Item metadata and class disagree",
            "{0} is {1} in '{2}' but {3} in <LanguageModelFineTune Include=\"{4}\">; set it in one place");

        public static readonly DiagnosticDescriptor DuplicateJobName = Error(ErrorCodes.DuplicateJobName,
            "Job name is used twice",
            "Job '{0}' is already configured by '{1}'; each job needs its own name");

        public static readonly DiagnosticDescriptor InvalidJobName = Error(ErrorCodes.InvalidJobName,
            "Invalid job name",
            "Job name '{0}' must be non-empty and use only letters, digits, '-', '_' and '.', because it names the job's output folder");

        public static readonly DiagnosticDescriptor MalformedValue = Error(ErrorCodes.MalformedValue,
            "Value cannot be read",
            "{0} expects {1}, got '{2}'");

        public static readonly DiagnosticDescriptor InconsistentArguments = Error(ErrorCodes.InconsistentArguments,
            "Arguments contradict each other",
            "{0}");

        public static readonly DiagnosticDescriptor ItemJobNameMismatch = Error(ErrorCodes.ItemJobNameMismatch,
            "Item and class name different jobs",
            "<LanguageModelFineTune Include=\"{0}\"> has Config=\"{1}\", but that class configures job '{2}'; use the same name in both");

        public static readonly DiagnosticDescriptor AttributeWithoutJob = Error(ErrorCodes.AttributeWithoutJob,
            "Job attribute without [FineTuneJob]",
            "[{0}] on '{1}' has no effect without [FineTuneJob(\"<job name>\")] on the same class");

        public static readonly DiagnosticDescriptor UnsupportedDataFile = Error(ErrorCodes.UnsupportedDataFile,
            "Data file of an unsupported type",
            "{0} '{1}' is not a data file lm-tune reads; use .txt, .csv, .json, .jsonl or .parquet");

        public static readonly DiagnosticDescriptor AmbiguousConfigClass = Error(ErrorCodes.AmbiguousConfigClass,
            "Fine-tune item names several classes",
            "<LanguageModelFineTune Include=\"{0}\"> has Config=\"{1}\", which names several classes with [FineTuneJob] ({2}); use the full name");

        public static readonly DiagnosticDescriptor OutputDirInClassOfItem = Error(ErrorCodes.OutputDirInClassOfItem,
            "OutputDir of a job the build trains is the item's",
            "OutputDir is set in '{0}', but <LanguageModelFineTune Include=\"{1}\"> trains this job and decides its output folder (default obj/lm/{1}/), which the app's Artifacts accessor reads; set OutputDir on the item instead");

        public static readonly DiagnosticDescriptor ChatDataFileType = Error(ErrorCodes.ChatDataFileType,
            "Chat data file of the wrong type",
            "{0} '{1}' cannot hold {2} rows; chat and instruction rows are read from .json or .jsonl files ({3})");

        public static readonly DiagnosticDescriptor ChatOptionOnTextData = Error(ErrorCodes.ChatOptionOnTextData,
            "Chat option on text data",
            "{0} has no effect with DatasetFormat (dataset_format) text, which trains on plain text as run_clm.py does; drop it or use messages, prompt_completion or instruction rows");

        public static readonly DiagnosticDescriptor LoraValueSetTwice = Error(ErrorCodes.LoraValueSetTwice,
            "LoRA argument set twice",
            "{0} is set by [Lora] and also by [FineTuneJob]'s {1} on the same class; set it once, in [Lora]");

        public static readonly DiagnosticDescriptor LoraWithUsePeftFalse = Error(ErrorCodes.LoraWithUsePeftFalse,
            "UsePeft = false beside [Lora]",
            "UsePeft (use_peft) is false, but the class has [Lora], which trains a LoRA adapter; remove UsePeft, or remove [Lora] to fine-tune every weight");

        public static readonly DiagnosticDescriptor DistributedValueInvalid = Error(ErrorCodes.DistributedValueInvalid,
            "Distributed setting is out of range",
            "[Distributed] {0} must be {1}, got {2}");

        public static readonly DiagnosticDescriptor DistributedShardingConflict = Error(ErrorCodes.DistributedShardingConflict,
            "Fsdp and Deepspeed together",
            "[Distributed] sets Fsdp and Deepspeed '{0}': each shards the model its own way; set one of them");

        /// <summary>The whole table, in id order.</summary>
        public static readonly ImmutableArray<DiagnosticDescriptor> All = ImmutableArray.Create(
            ValueMustBePositive, ValueOutOfRange, UnknownChoice, EvalWithoutValidationData, ObjectiveDoesNotFitModel,
            ConfigClassNotPartial, ItemWithoutClass, ClassWithoutItem, ItemValueConflict, DuplicateJobName,
            InvalidJobName, MalformedValue, InconsistentArguments, ItemJobNameMismatch, AttributeWithoutJob, UnsupportedDataFile, AmbiguousConfigClass,
            OutputDirInClassOfItem, UnknownLoraTarget, ChatDataFileType, ChatOptionOnTextData,
            LoraValueSetTwice, LoraWithUsePeftFalse, DistributedValueInvalid, DistributedShardingConflict);

        private static readonly Dictionary<string, DiagnosticDescriptor> Table = All.ToDictionary(d => d.Id);

        public static DiagnosticDescriptor ById(string id) => Table[id];

        private static DiagnosticDescriptor Error(string id, string title, string message) =>
            new DiagnosticDescriptor(id, title, message, Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        private static DiagnosticDescriptor Warning(string id, string title, string message) =>
            new DiagnosticDescriptor(id, title, message, Category, DiagnosticSeverity.Warning, isEnabledByDefault: true);
    }
}
