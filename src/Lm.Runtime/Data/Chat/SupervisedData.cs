using Lm.Runtime.Errors;
using Lm.Runtime.Tokenization;
using Lm.Runtime.Tokenization.Chat;

namespace Lm.Runtime.Data.Chat;

/// <summary>The supervised splits of a job; a split not asked for is null.</summary>
public sealed record SupervisedSplits(SupervisedDataset? Train, SupervisedDataset? Validation, SupervisedTokenizer Tokenizer);

/// <summary>
/// Chat and instruction data for causal LMs, prepared as TRL's SFTTrainer prepares it: rows read and tokenized
/// (<see cref="SupervisedTokenizer"/>), then either truncated to <c>max_seq_length</c> (TRL's <c>max_length</c>,
/// <c>truncation_mode="keep_start"</c>) with examples left without a trained token dropped, or packed into sequences
/// of that length (<see cref="SequencePacker"/>). Text rows keep run_clm.py's pipeline (<see cref="DataPipeline"/>).
/// </summary>
public static class SupervisedData
{
    /// <summary>TRL's default <c>max_length</c>.</summary>
    public const int DefaultMaxLength = 1024;

    /// <summary>The format of the job's rows, or null when they are text for run_clm.py's pipeline.</summary>
    public static SupervisedFormat? DetectFormat(DataArguments args)
    {
        if (args.DatasetName is not null)
        {
            if (args.DatasetFormat is "auto" or "text") return null;
            throw new LmException(ErrorCodes.ChatOptionConflict,
                $"dataset_format {args.DatasetFormat} is read from train_file / validation_file (.json, .jsonl, .parquet), not from dataset_name");
        }
        string? path = args.TrainFile ?? args.ValidationFile;
        if (path is null) return null;
        TextSource.RequireNonEmptyFile(path);
        return SupervisedRows.Detect(path, args.DatasetFormat, args.TextColumn);
    }

    /// <summary>The length sequences are cut or packed to: <c>max_seq_length</c>, else TRL's 1024 within the model's positions.</summary>
    public static int MaxLength(DataArguments args, int maxPositions)
    {
        if (args.MaxSeqLength is int asked)
        {
            if (asked > maxPositions)
                throw new LmException(ErrorCodes.BlockSizeTooLarge,
                    $"--max-seq-length {asked} is larger than the {maxPositions} positions of the model; use at most {maxPositions}");
            return asked;
        }
        return Math.Min(DefaultMaxLength, maxPositions);
    }

    /// <summary>The template rows are rendered with: <c>chat_template_path</c>, else the tokenizer's (null when it has none).</summary>
    public static ChatTemplate? Template(DataArguments args, LmTokenizer tokenizer) =>
        args.ChatTemplatePath is not null ? ChatTemplate.For(tokenizer, args.ChatTemplatePath)
        : tokenizer.ChatTemplate is not null ? ChatTemplate.For(tokenizer) : null;

    /// <summary>
    /// The tokenizer of the job's options: assistant-only loss defaults to true for conversational rows (TRL's
    /// default is false; lm-tune trains chat data on the replies unless told otherwise), completion-only loss to true
    /// for prompt/completion and instruction rows (TRL's default).
    /// </summary>
    public static SupervisedTokenizer CreateTokenizer(DataArguments args, SupervisedFormat format, LmTokenizer tokenizer, SupervisedRow firstRow)
    {
        var template = Template(args, tokenizer);
        var probe = new SupervisedTokenizer(tokenizer, template, false, false);
        bool conversational = probe.RendersAsConversation(firstRow);
        if (args.AssistantOnlyLoss == true && !conversational)
            throw new LmException(ErrorCodes.ChatOptionConflict,
                "assistant_only_loss needs conversational rows (messages, or prompt/completion as lists of messages) rendered with a chat template; " +
                "these rows are text");
        bool assistantOnly = args.AssistantOnlyLoss ?? conversational;
        bool completionOnly = args.CompletionOnlyLoss ?? format is SupervisedFormat.PromptCompletion or SupervisedFormat.Instruction;
        return new SupervisedTokenizer(tokenizer, template, assistantOnly, completionOnly);
    }

    /// <summary>Reads, tokenizes and truncates or packs the splits asked for.</summary>
    public static SupervisedSplits Prepare(DataArguments args, SupervisedFormat format, LmTokenizer tokenizer, int maxPositions,
        bool train = true, bool validation = true, Action<string>? log = null)
    {
        if (args.Packing && args.PackingStrategy is not ("bfd" or "wrapped"))
            throw new LmException(ErrorCodes.ChatOptionConflict, $"packing_strategy must be bfd or wrapped, got '{args.PackingStrategy}'");
        int maxLength = MaxLength(args, maxPositions);
        int padId = tokenizer.PadTokenId ?? tokenizer.EosTokenId ?? throw new LmException(ErrorCodes.TokenizerLacksSpecialToken,
            "chat examples differ in length and are padded, but the tokenizer has neither a pad nor an eos token");

        var (trainRows, trainSource) = args.TrainFile is null ? (null, "") : ReadSplit(args, format, "train");
        var (validationRows, validationSource) = args.ValidationFile is null && args.TrainFile is null ? (null, "") : ReadSplit(args, format, "validation");
        var first = (trainRows ?? validationRows)?.FirstOrDefault()
            ?? throw new LmException(ErrorCodes.InvalidDataArgument, "no data: give train_file (and validation_file)");
        var supervised = CreateTokenizer(args, format, tokenizer, first);
        log?.Invoke($"chat data: {FormatName(format)} rows, " +
            (supervised.RendersAsConversation(first) ? "rendered with the chat template" : "as text") +
            (supervised.AssistantOnlyLoss ? ", loss on assistant tokens only" : "") +
            (supervised.CompletionOnlyLoss ? ", loss on completions only" : "") +
            (args.Packing ? $", packed ({args.PackingStrategy}) into {maxLength} tokens" : $", truncated to {maxLength} tokens"));

        SupervisedDataset? Build(List<SupervisedRow>? rows, string split, string source, int? limit, bool wanted)
        {
            if (!wanted) return null;
            if (rows is null || rows.Count == 0)
                throw new LmException(ErrorCodes.InvalidDataArgument, split == "train"
                    ? "training needs train_file"
                    : "evaluation needs validation_file or a train split to take it from (validation_split_percentage is 0)");
            var dataset = Prepare(rows, supervised, args, maxLength, padId, split, source, format);
            return limit is int n ? dataset.Take(n) : dataset;
        }
        return new SupervisedSplits(
            Build(trainRows, "train", trainSource, args.MaxTrainSamples, train),
            Build(validationRows, "validation", validationSource, args.MaxEvalSamples, validation),
            supervised);
    }

    /// <summary>
    /// The rows of <paramref name="split"/> ("train" or "validation") and where they come from: the split's file, or
    /// without a validation file run_clm.py's <c>train[:P%]</c> / <c>train[P%:]</c> of the train file.
    /// </summary>
    public static (List<SupervisedRow>? Rows, string Source) ReadSplit(DataArguments args, SupervisedFormat format, string split)
    {
        if (split == "validation" && args.ValidationFile is not null) return (SupervisedRows.Read(args.ValidationFile, format), args.ValidationFile);
        if (args.TrainFile is null) return (null, "");
        var rows = SupervisedRows.Read(args.TrainFile, format);
        if (args.ValidationFile is not null) return (rows, args.TrainFile);
        int cut = (int)TextSource.RowAtPercent(args.ValidationSplitPercentage, rows.Count);
        int percent = args.ValidationSplitPercentage;
        return split == "validation"
            ? (rows.Take(cut).ToList(), $"{args.TrainFile}[:{percent}%]")
            : (rows.Skip(cut).ToList(), $"{args.TrainFile}[{percent}%:]");
    }

    /// <summary>One split: tokenized, then truncated (dropping examples left without a trained token) or packed.</summary>
    public static SupervisedDataset Prepare(IReadOnlyList<SupervisedRow> rows, SupervisedTokenizer tokenizer, DataArguments args, int maxLength,
        int padTokenId, string split, string source, SupervisedFormat format)
    {
        var examples = rows.Select(tokenizer.Tokenize).ToList();
        long dropped = 0;
        IReadOnlyList<PackedSequence> sequences;
        if (args.Packing)
        {
            sequences = SequencePacker.Pack(examples, maxLength, args.PackingStrategy);
        }
        else
        {
            var kept = new List<SupervisedExample>(examples.Count);
            foreach (var example in examples)
            {
                int length = Math.Min(maxLength, example.InputIds.Length);
                var cut = new SupervisedExample(example.InputIds[..length], example.Labels[..length]);
                if (cut.TrainedTokens > 0) kept.Add(cut);
                else dropped++;
            }
            sequences = kept.Select(e => new PackedSequence(e.InputIds, e.Labels, [e.InputIds.Length])).ToList();
        }
        if (sequences.Count == 0)
            throw new LmException(ErrorCodes.NotEnoughTokens,
                $"{source}: no {split} example keeps a trained token within {maxLength} tokens; raise --max-seq-length");
        var stats = new SupervisedStats(split, source, FormatName(format), rows.Count, examples.Count - dropped, sequences.Count,
            sequences.Sum(s => (long)s.InputIds.Length), sequences.Sum(s => (long)s.Labels.Count(l => l != SupervisedTokenizer.IgnoreIndex)),
            dropped, maxLength, args.Packing);
        return new SupervisedDataset(sequences, padTokenId, args.PadToMultipleOf, stats);
    }

    public static string FormatName(SupervisedFormat format) => format switch
    {
        SupervisedFormat.Messages => "messages",
        SupervisedFormat.PromptCompletion => "prompt_completion",
        _ => "instruction",
    };
}
