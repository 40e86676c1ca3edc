using Lm.Runtime.Errors;

namespace Lm.Runtime.Data;

/// <summary>The training objective the data is prepared for.</summary>
public enum DataObjective
{
    /// <summary>Causal LM (run_clm.py): grouped blocks of <c>block_size</c>.</summary>
    Clm,

    /// <summary>Masked LM (run_mlm.py): grouped blocks of <c>max_seq_length</c>, or one example per line.</summary>
    Mlm,
}

/// <summary>
/// Everything that decides which token blocks a split becomes. Every field is part of the token cache key.
/// Build from job arguments with <see cref="From"/>, which applies run_clm.py / run_mlm.py's length rules.
/// </summary>
public sealed record PreprocessingOptions
{
    /// <summary>Tokens per block (grouping) or the longest example (line by line).</summary>
    public required int BlockSize { get; init; }

    /// <summary>run_mlm.py <c>--line_by_line</c>: each non-blank row is one example, truncated to <see cref="BlockSize"/>.</summary>
    public bool LineByLine { get; init; }

    /// <summary>Rows per group_texts call (<c>datasets.map</c> batch size); each call drops its own remainder.</summary>
    public int GroupBatchSize { get; init; } = 1000;

    /// <summary>Concatenate the whole split first, so only the final remainder is dropped.</summary>
    public bool GlobalConcatenation { get; init; }

    /// <summary>
    /// <c>datasets.map</c>'s <c>num_proc</c>: the rows are cut into this many contiguous shards (sizes as
    /// <c>Dataset.shard(contiguous=True)</c>) and each shard is grouped in map batches from its own first row, so
    /// <c>preprocessing_num_workers</c> changes the blocks exactly as it does in Hugging Face.
    /// </summary>
    public int MapShards { get; init; } = 1;

    /// <summary>
    /// run_mlm.py's group_texts: a map batch with fewer tokens than one block becomes one shorter example instead of
    /// being dropped (run_clm.py drops it).
    /// </summary>
    public bool KeepShortBatches { get; init; }

    /// <summary>Tokenizer threads (not part of the cache key: the output does not depend on it).</summary>
    public int Workers { get; init; } = Environment.ProcessorCount;

    /// <summary>Rebuild the cache entry even when a valid one exists.</summary>
    public bool OverwriteCache { get; init; }

    /// <summary>The token cache root; <c>TorchRuntime.CacheRoot</c> when null.</summary>
    public string? CacheRoot { get; init; }

    /// <summary>Whether map batches (and their shards) decide the blocks: grouping without global concatenation.</summary>
    internal bool GroupsPerBatch => !LineByLine && !GlobalConcatenation;

    /// <summary>The part of the options that decides the output, in a stable text form.</summary>
    internal string CacheKey =>
        $"block_size={BlockSize}|line_by_line={LineByLine}|global_concatenation={GlobalConcatenation && !LineByLine}" +
        (GroupsPerBatch ? $"|group_batch_size={GroupBatchSize}|map_shards={MapShards}|keep_short_batches={KeepShortBatches}" : "");

    /// <summary>
    /// Options from job arguments. Block length: for clm, <c>block_size</c> or else the tokenizer's
    /// <c>model_max_length</c>, which above <paramref name="maxPositionEmbeddings"/> (1024 when unknown) becomes
    /// <c>min(1024, max_position_embeddings)</c>; a given <c>block_size</c> is capped at <c>model_max_length</c>.
    /// For mlm, <c>max_seq_length</c> (else <c>block_size</c>) or else <c>model_max_length</c> capped at 1024; a
    /// given length is capped at <c>model_max_length</c>. Each cap adds a line to <paramref name="warnings"/>.
    /// <c>preprocessing_num_workers</c> sets both the threads and, as <c>num_proc</c> does, the map shards.
    /// </summary>
    public static PreprocessingOptions From(DataArguments args, DataObjective objective, int modelMaxLength,
        int? maxPositionEmbeddings = null, ICollection<string>? warnings = null)
    {
        if (args.GroupBatchSize < 1)
            throw Invalid($"group_batch_size must be at least 1, got {args.GroupBatchSize}");
        if (args.LineByLine && objective == DataObjective.Clm)
            throw Invalid("line_by_line applies to masked LM only (run_mlm.py); causal LM groups texts into blocks");
        if (args.PreprocessingNumWorkers is < 1)
            throw Invalid($"preprocessing_num_workers must be at least 1, got {args.PreprocessingNumWorkers}");

        int blockSize = objective == DataObjective.Clm
            ? ClmBlockSize(args.BlockSize, modelMaxLength, maxPositionEmbeddings ?? 1024, warnings)
            : MlmSequenceLength(args.MaxSeqLength ?? args.BlockSize, modelMaxLength, warnings);
        return new PreprocessingOptions
        {
            BlockSize = blockSize,
            LineByLine = args.LineByLine,
            GroupBatchSize = args.GroupBatchSize,
            GlobalConcatenation = args.GlobalConcatenation,
            MapShards = args.PreprocessingNumWorkers ?? 1,
            KeepShortBatches = objective == DataObjective.Mlm,
            Workers = args.PreprocessingNumWorkers ?? Environment.ProcessorCount,
            OverwriteCache = args.OverwriteCache,
        };
    }

    private static int ClmBlockSize(int? requested, int modelMaxLength, int maxPositionEmbeddings, ICollection<string>? warnings)
    {
        if (requested is null)
        {
            if (modelMaxLength <= maxPositionEmbeddings) return modelMaxLength;
            int fallback = maxPositionEmbeddings > 0 ? Math.Min(1024, maxPositionEmbeddings) : 1024;
            warnings?.Add($"the tokenizer's model_max_length ({modelMaxLength}) is very large; using block_size={fallback} (pass block_size to change it)");
            return fallback;
        }
        if (requested < 1) throw Invalid($"block_size must be at least 1, got {requested}");
        if (requested > modelMaxLength)
            warnings?.Add($"block_size {requested} is larger than the model's maximum length ({modelMaxLength}); using block_size={modelMaxLength}");
        return Math.Min(requested.Value, modelMaxLength);
    }

    private static int MlmSequenceLength(int? requested, int modelMaxLength, ICollection<string>? warnings)
    {
        if (requested is null)
        {
            if (modelMaxLength <= 1024) return modelMaxLength;
            warnings?.Add($"the tokenizer's model_max_length ({modelMaxLength}) is very large; using max_seq_length=1024 (pass max_seq_length to change it)");
            return 1024;
        }
        if (requested < 1) throw Invalid($"max_seq_length must be at least 1, got {requested}");
        if (requested > modelMaxLength)
            warnings?.Add($"max_seq_length {requested} is larger than the model's maximum length ({modelMaxLength}); using max_seq_length={modelMaxLength}");
        return Math.Min(requested.Value, modelMaxLength);
    }

    private static LmException Invalid(string message) => new(ErrorCodes.InvalidDataArgument, message);
}
