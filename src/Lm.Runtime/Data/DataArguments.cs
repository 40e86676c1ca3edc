using System.Text.Json.Serialization;

namespace Lm.Runtime.Data;

/// <summary>run_clm.py / run_mlm.py <c>DataTrainingArguments</c>, plus lm-tune's grouping and column options.</summary>
public sealed class DataArguments
{
    [JsonPropertyName("dataset_name")] public string? DatasetName { get; set; }
    [JsonPropertyName("dataset_config_name")] public string? DatasetConfigName { get; set; }
    /// <summary>.txt, .csv, .json, .jsonl or .parquet.</summary>
    [JsonPropertyName("train_file")] public string? TrainFile { get; set; }
    [JsonPropertyName("validation_file")] public string? ValidationFile { get; set; }
    /// <summary>Column holding the text in csv/json/parquet files; <c>text</c>, else the first column.</summary>
    [JsonPropertyName("text_column")] public string? TextColumn { get; set; }
    [JsonPropertyName("max_train_samples")] public int? MaxTrainSamples { get; set; }
    [JsonPropertyName("max_eval_samples")] public int? MaxEvalSamples { get; set; }
    /// <summary>Block length for group_texts; the tokenizer's model_max_length capped at 1024 when not set.</summary>
    [JsonPropertyName("block_size")] public int? BlockSize { get; set; }
    /// <summary>run_mlm.py's sequence length (line-by-line and grouping); as block_size when not set.</summary>
    [JsonPropertyName("max_seq_length")] public int? MaxSeqLength { get; set; }
    [JsonPropertyName("overwrite_cache")] public bool OverwriteCache { get; set; }
    /// <summary>Percent of train used as validation when there is no validation file or split.</summary>
    [JsonPropertyName("validation_split_percentage")] public int ValidationSplitPercentage { get; set; } = 5;
    /// <summary>
    /// datasets.map's num_proc: tokenizer threads, and the rows are grouped in this many contiguous shards as HF does;
    /// when not set, all cores tokenize and the rows form one shard (HF's default single process).
    /// </summary>
    [JsonPropertyName("preprocessing_num_workers")] public int? PreprocessingNumWorkers { get; set; }
    /// <summary>Keep each line's line break in .txt files (run_clm.py default true).</summary>
    [JsonPropertyName("keep_linebreaks")] public bool KeepLinebreaks { get; set; } = true;
    /// <summary>run_mlm.py: one example per non-empty line, padded or truncated to max_seq_length.</summary>
    [JsonPropertyName("line_by_line")] public bool LineByLine { get; set; }
    [JsonPropertyName("pad_to_max_length")] public bool PadToMaxLength { get; set; }
    [JsonPropertyName("mlm_probability")] public double MlmProbability { get; set; } = 0.15;
    /// <summary>Whole-word masking for WordPiece tokenizers (DataCollatorForWholeWordMask).</summary>
    [JsonPropertyName("whole_word_mask")] public bool WholeWordMask { get; set; }
    [JsonPropertyName("pad_to_multiple_of")] public int? PadToMultipleOf { get; set; }
    /// <summary>Rows per group_texts batch (datasets.map's batch_size; 1000 as HF).</summary>
    [JsonPropertyName("group_batch_size")] public int GroupBatchSize { get; set; } = 1000;
    /// <summary>Concatenate the whole split before cutting blocks, dropping only the final remainder.</summary>
    [JsonPropertyName("global_concatenation")] public bool GlobalConcatenation { get; set; }

    // Chat and instruction data (TRL's SFTConfig): see docs/chat.md.

    /// <summary>
    /// How rows are read: <c>auto</c> (TRL's detection: <c>messages</c>, then <c>prompt</c>+<c>completion</c>, then
    /// <c>instruction</c>+<c>output</c>, else text), <c>text</c> (run_clm.py's text column), <c>messages</c>,
    /// <c>prompt_completion</c> or <c>instruction</c> (Alpaca's instruction/input/output).
    /// </summary>
    [JsonPropertyName("dataset_format")] public string DatasetFormat { get; set; } = "auto";
    /// <summary>A Jinja chat template file used instead of the tokenizer's <c>chat_template</c>.</summary>
    [JsonPropertyName("chat_template_path")] public string? ChatTemplatePath { get; set; }
    /// <summary>Loss on the assistant turns only (their end-of-turn token included); when not set, true for conversational data.</summary>
    [JsonPropertyName("assistant_only_loss")] public bool? AssistantOnlyLoss { get; set; }
    /// <summary>Loss on the completion only; when not set, true for prompt/completion (and instruction) data, as TRL.</summary>
    [JsonPropertyName("completion_only_loss")] public bool? CompletionOnlyLoss { get; set; }
    /// <summary>Pack several examples into each sequence of <c>max_seq_length</c> tokens, labels kept (TRL's packing).</summary>
    [JsonPropertyName("packing")] public bool Packing { get; set; }
    /// <summary><c>bfd</c> (best-fit decreasing, sequences kept whole) or <c>wrapped</c> (concatenate and cut).</summary>
    [JsonPropertyName("packing_strategy")] public string PackingStrategy { get; set; } = "bfd";
}
