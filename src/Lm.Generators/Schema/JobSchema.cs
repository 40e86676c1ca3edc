using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;

namespace Lm.Generators.Schema
{
    /// <summary>
    /// The fine-tune schema as the generator knows it. The generator runs inside the compiler and cannot load
    /// Lm.Runtime, so this table repeats what <c>Lm.Runtime.Jobs.FineTuneJob.Fields</c> computes from the runtime's
    /// argument classes (names, sections, kinds, defaults) plus the ranges and choices their <c>Validate()</c>
    /// enforces. A test compares the two, so they cannot drift apart.
    /// </summary>
    internal static class JobSchema
    {
        public const string Model = "model";
        public const string Data = "data";
        public const string Training = "training";

        private static readonly string[] IntervalStrategies = { "no", "steps", "epoch" };

        /// <summary>Every field in the runtime's order (model, data, training; declaration order within each).</summary>
        public static readonly ImmutableArray<KnownField> Fields = ImmutableArray.Create(
            // ModelArguments (run_clm.py / run_mlm.py ModelArguments, plus objective and device)
            new KnownField("model_name_or_path", Model, FieldKind.Text, true, "ModelNameOrPath", null, attributeProperty: "Model"),
            new KnownField("model_type", Model, FieldKind.Text, true, "ModelType", null),
            new KnownField("config_name", Model, FieldKind.Text, true, "ConfigName", null),
            new KnownField("config_overrides", Model, FieldKind.Text, true, "ConfigOverrides", null),
            new KnownField("tokenizer_name", Model, FieldKind.Text, true, "TokenizerName", null),
            new KnownField("cache_dir", Model, FieldKind.Text, true, "CacheDir", null),
            new KnownField("model_revision", Model, FieldKind.Text, false, "ModelRevision", "\"main\""),
            new KnownField("torch_dtype", Model, FieldKind.Text, true, "TorchDtype", null, choices: new[] { "float32", "bfloat16", "auto" }),
            new KnownField("objective", Model, FieldKind.Text, true, "Objective", null, choices: new[] { "clm", "mlm" }),
            new KnownField("device", Model, FieldKind.Text, false, "Device", "\"auto\"", choices: new[] { "auto", "cpu", "cuda", "cuda:N" }),

            // DataArguments (DataTrainingArguments, plus grouping options)
            new KnownField("dataset_name", Data, FieldKind.Text, true, "DatasetName", null),
            new KnownField("dataset_config_name", Data, FieldKind.Text, true, "DatasetConfigName", null),
            new KnownField("train_file", Data, FieldKind.Text, true, "TrainFile", null),
            new KnownField("validation_file", Data, FieldKind.Text, true, "ValidationFile", null),
            new KnownField("text_column", Data, FieldKind.Text, true, "TextColumn", null),
            new KnownField("max_train_samples", Data, FieldKind.Integer, true, "MaxTrainSamples", null, ValueRange.Positive),
            new KnownField("max_eval_samples", Data, FieldKind.Integer, true, "MaxEvalSamples", null, ValueRange.Positive),
            new KnownField("block_size", Data, FieldKind.Integer, true, "BlockSize", null, ValueRange.Positive),
            new KnownField("max_seq_length", Data, FieldKind.Integer, true, "MaxSeqLength", null, ValueRange.Positive),
            new KnownField("overwrite_cache", Data, FieldKind.Boolean, false, "OverwriteCache", "false"),
            new KnownField("validation_split_percentage", Data, FieldKind.Integer, false, "ValidationSplitPercentage", "5", ValueRange.Percentage),
            new KnownField("preprocessing_num_workers", Data, FieldKind.Integer, true, "PreprocessingNumWorkers", null, ValueRange.Positive),
            new KnownField("keep_linebreaks", Data, FieldKind.Boolean, false, "KeepLinebreaks", "true"),
            new KnownField("line_by_line", Data, FieldKind.Boolean, false, "LineByLine", "false"),
            new KnownField("pad_to_max_length", Data, FieldKind.Boolean, false, "PadToMaxLength", "false"),
            new KnownField("mlm_probability", Data, FieldKind.Number, false, "MlmProbability", "0.15", ValueRange.UnitOpen),
            new KnownField("whole_word_mask", Data, FieldKind.Boolean, false, "WholeWordMask", "false"),
            new KnownField("pad_to_multiple_of", Data, FieldKind.Integer, true, "PadToMultipleOf", null, ValueRange.Positive),
            new KnownField("group_batch_size", Data, FieldKind.Integer, false, "GroupBatchSize", "1000", ValueRange.Positive),
            new KnownField("global_concatenation", Data, FieldKind.Boolean, false, "GlobalConcatenation", "false"),

            // TrainingArguments (HF's, the subset lm-tune implements)
            new KnownField("output_dir", Training, FieldKind.Text, false, "OutputDir", "\"trainer_output\""),
            new KnownField("overwrite_output_dir", Training, FieldKind.Boolean, false, "OverwriteOutputDir", "false"),
            new KnownField("do_train", Training, FieldKind.Boolean, false, "DoTrain", "false"),
            new KnownField("do_eval", Training, FieldKind.Boolean, false, "DoEval", "false"),
            new KnownField("eval_strategy", Training, FieldKind.Text, false, "EvalStrategy", "\"no\"", choices: IntervalStrategies),
            new KnownField("eval_steps", Training, FieldKind.Number, true, "EvalSteps", null, ValueRange.Positive, stepCount: true),
            new KnownField("eval_on_start", Training, FieldKind.Boolean, false, "EvalOnStart", "false"),
            new KnownField("per_device_train_batch_size", Training, FieldKind.Integer, false, "PerDeviceTrainBatchSize", "8", ValueRange.Positive),
            new KnownField("per_device_eval_batch_size", Training, FieldKind.Integer, false, "PerDeviceEvalBatchSize", "8", ValueRange.Positive),
            new KnownField("gradient_accumulation_steps", Training, FieldKind.Integer, false, "GradientAccumulationSteps", "1", ValueRange.Positive),
            new KnownField("learning_rate", Training, FieldKind.Number, false, "LearningRate", "5e-05", ValueRange.Positive),
            new KnownField("weight_decay", Training, FieldKind.Number, false, "WeightDecay", "0", ValueRange.NonNegative),
            new KnownField("adam_beta1", Training, FieldKind.Number, false, "AdamBeta1", "0.9", ValueRange.UnitHalfOpen),
            new KnownField("adam_beta2", Training, FieldKind.Number, false, "AdamBeta2", "0.999", ValueRange.UnitHalfOpen),
            new KnownField("adam_epsilon", Training, FieldKind.Number, false, "AdamEpsilon", "1e-08", ValueRange.Positive),
            new KnownField("max_grad_norm", Training, FieldKind.Number, false, "MaxGradNorm", "1", ValueRange.NonNegative),
            // Positive unless max_steps is set: checked with max_steps (JobValidator).
            new KnownField("num_train_epochs", Training, FieldKind.Number, false, "NumTrainEpochs", "3"),
            // Positive, or -1 for "not set": checked by JobValidator.
            new KnownField("max_steps", Training, FieldKind.Integer, false, "MaxSteps", "-1"),
            new KnownField("lr_scheduler_type", Training, FieldKind.Text, false, "LrSchedulerType", "\"linear\"",
                choices: new[] { "linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup" }),
            new KnownField("lr_scheduler_kwargs", Training, FieldKind.Map, false, "LrSchedulerKwargs", "{}"),
            new KnownField("warmup_ratio", Training, FieldKind.Number, false, "WarmupRatio", "0", ValueRange.UnitClosed),
            new KnownField("warmup_steps", Training, FieldKind.Integer, false, "WarmupSteps", "0", ValueRange.NonNegative),
            new KnownField("logging_strategy", Training, FieldKind.Text, false, "LoggingStrategy", "\"steps\"", choices: IntervalStrategies),
            new KnownField("logging_steps", Training, FieldKind.Number, false, "LoggingSteps", "500", ValueRange.Positive, stepCount: true),
            new KnownField("logging_first_step", Training, FieldKind.Boolean, false, "LoggingFirstStep", "false"),
            new KnownField("logging_dir", Training, FieldKind.Text, true, "LoggingDir", null),
            new KnownField("save_strategy", Training, FieldKind.Text, false, "SaveStrategy", "\"steps\"", choices: IntervalStrategies),
            new KnownField("save_steps", Training, FieldKind.Number, false, "SaveSteps", "500", ValueRange.Positive, stepCount: true),
            new KnownField("save_total_limit", Training, FieldKind.Integer, true, "SaveTotalLimit", null, ValueRange.Positive),
            new KnownField("seed", Training, FieldKind.Integer, false, "Seed", "42"),
            new KnownField("data_seed", Training, FieldKind.Integer, true, "DataSeed", null),
            new KnownField("bf16", Training, FieldKind.Boolean, false, "Bf16", "false"),
            new KnownField("dataloader_drop_last", Training, FieldKind.Boolean, false, "DataloaderDropLast", "false"),
            new KnownField("gradient_checkpointing", Training, FieldKind.Boolean, false, "GradientCheckpointing", "false"),
            new KnownField("load_best_model_at_end", Training, FieldKind.Boolean, false, "LoadBestModelAtEnd", "false"),
            new KnownField("metric_for_best_model", Training, FieldKind.Text, true, "MetricForBestModel", null),
            new KnownField("greater_is_better", Training, FieldKind.Boolean, true, "GreaterIsBetter", null),
            new KnownField("early_stopping_patience", Training, FieldKind.Integer, true, "EarlyStoppingPatience", null, ValueRange.Positive),
            new KnownField("early_stopping_threshold", Training, FieldKind.Number, false, "EarlyStoppingThreshold", "0"),
            new KnownField("resume_from_checkpoint", Training, FieldKind.Text, true, "ResumeFromCheckpoint", null),
            new KnownField("report_to", Training, FieldKind.Text, false, "ReportTo", "\"all\"", choices: new[] { "all", "tensorboard", "none" }),
            new KnownField("optim", Training, FieldKind.Text, false, "Optim", "\"adamw_torch\"", choices: new[] { "adamw_torch" }),
            new KnownField("run_name", Training, FieldKind.Text, true, "RunName", null));

        private static readonly Dictionary<string, KnownField> ByName = Fields.ToDictionary(f => f.Name, StringComparer.Ordinal);

        /// <summary>The field with HF name <paramref name="name"/>, or null.</summary>
        public static KnownField? Find(string name) => ByName.TryGetValue(name, out KnownField? field) ? field : null;

        /// <summary>The field set by <paramref name="attributeProperty"/> of the attribute for <paramref name="section"/>, or null.</summary>
        public static KnownField? FindByAttributeProperty(string section, string attributeProperty) =>
            Fields.FirstOrDefault(f => f.Section == section && f.AttributeProperty == attributeProperty);

        /// <summary>
        /// Model names whose family is known, with the objective that family trains (gpt2, llama, qwen2, mistral → clm;
        /// roberta, bert → mlm): lm-tune's presets and the Hugging Face hub ids of the tutorial's and today's small models.
        /// </summary>
        public static readonly ImmutableDictionary<string, ModelFamily> KnownModels = new Dictionary<string, ModelFamily>(StringComparer.OrdinalIgnoreCase)
        {
            ["tiny-gpt2"] = ModelFamily.Gpt2,
            ["gpt2"] = ModelFamily.Gpt2,
            ["gpt2-medium"] = ModelFamily.Gpt2,
            ["gpt2-large"] = ModelFamily.Gpt2,
            ["gpt2-xl"] = ModelFamily.Gpt2,
            ["distilgpt2"] = ModelFamily.Gpt2,
            ["openai-community/gpt2"] = ModelFamily.Gpt2,
            ["distilbert/distilgpt2"] = ModelFamily.Gpt2,
            ["tiny-roberta"] = ModelFamily.Roberta,
            ["roberta-base"] = ModelFamily.Roberta,
            ["roberta-large"] = ModelFamily.Roberta,
            ["distilroberta-base"] = ModelFamily.Roberta,
            ["FacebookAI/roberta-base"] = ModelFamily.Roberta,
            ["distilbert/distilroberta-base"] = ModelFamily.Roberta,
            ["tiny-bert"] = ModelFamily.Bert,
            ["bert-base-uncased"] = ModelFamily.Bert,
            ["bert-base-cased"] = ModelFamily.Bert,
            ["bert-large-uncased"] = ModelFamily.Bert,
            ["bert-large-cased"] = ModelFamily.Bert,
            ["google-bert/bert-base-uncased"] = ModelFamily.Bert,
            ["google-bert/bert-base-cased"] = ModelFamily.Bert,
            ["tiny-llama"] = ModelFamily.Llama,
            ["smollm2-135m"] = ModelFamily.Llama,
            ["llama-3.2-1b"] = ModelFamily.Llama,
            ["HuggingFaceTB/SmolLM2-135M"] = ModelFamily.Llama,
            ["HuggingFaceTB/SmolLM2-360M"] = ModelFamily.Llama,
            ["HuggingFaceTB/SmolLM2-1.7B"] = ModelFamily.Llama,
            ["meta-llama/Llama-3.2-1B"] = ModelFamily.Llama,
            ["TinyLlama/TinyLlama-1.1B-Chat-v1.0"] = ModelFamily.Llama,
            ["tiny-qwen2"] = ModelFamily.Qwen2,
            ["qwen2.5-0.5b"] = ModelFamily.Qwen2,
            ["Qwen/Qwen2.5-0.5B"] = ModelFamily.Qwen2,
            ["Qwen/Qwen2.5-1.5B"] = ModelFamily.Qwen2,
            ["mistralai/Mistral-7B-v0.1"] = ModelFamily.Mistral,
        }.ToImmutableDictionary(StringComparer.OrdinalIgnoreCase);

        /// <summary>The families by <c>model_type</c>.</summary>
        public static readonly ImmutableDictionary<string, ModelFamily> ModelTypes = new Dictionary<string, ModelFamily>(StringComparer.Ordinal)
        {
            ["gpt2"] = ModelFamily.Gpt2,
            ["roberta"] = ModelFamily.Roberta,
            ["bert"] = ModelFamily.Bert,
            ["llama"] = ModelFamily.Llama,
            ["qwen2"] = ModelFamily.Qwen2,
            ["mistral"] = ModelFamily.Mistral,
        }.ToImmutableDictionary(StringComparer.Ordinal);
    }

    /// <summary>A model architecture and the objective it is trained with.</summary>
    internal sealed class ModelFamily
    {
        public static readonly ModelFamily Gpt2 = new ModelFamily("gpt2", "clm");
        public static readonly ModelFamily Roberta = new ModelFamily("roberta", "mlm");
        public static readonly ModelFamily Bert = new ModelFamily("bert", "mlm");
        public static readonly ModelFamily Llama = new ModelFamily("llama", "clm");
        public static readonly ModelFamily Qwen2 = new ModelFamily("qwen2", "clm");
        public static readonly ModelFamily Mistral = new ModelFamily("mistral", "clm");

        private ModelFamily(string modelType, string objective)
        {
            ModelType = modelType;
            Objective = objective;
        }

        public string ModelType { get; }
        public string Objective { get; }
    }
}
