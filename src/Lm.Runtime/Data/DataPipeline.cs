using Lm.Runtime.Errors;

namespace Lm.Runtime.Data;

/// <summary>The tokenized splits of a job, ready for a collator. Dispose to unmap the token cache files.</summary>
public sealed class PreparedData : IDisposable
{
    private readonly LmDataset? _fullTrain;
    private readonly LmDataset? _fullValidation;

    internal PreparedData(LmDataset? train, LmDataset? validation, int? maxTrainSamples, int? maxEvalSamples,
        PreprocessingOptions options, IReadOnlyList<string> warnings)
    {
        _fullTrain = train;
        _fullValidation = validation;
        Train = train is not null && maxTrainSamples is { } maxTrain ? train.Take(maxTrain) : train;
        Validation = validation is not null && maxEvalSamples is { } maxEval ? validation.Take(maxEval) : validation;
        Options = options;
        Warnings = warnings;
    }

    /// <summary>The train split (limited to <c>max_train_samples</c> blocks), or null when not asked for.</summary>
    public LmDataset? Train { get; }

    /// <summary>The validation split (limited to <c>max_eval_samples</c> blocks), or null when not asked for.</summary>
    public LmDataset? Validation { get; }

    /// <summary>
    /// What preprocessing did to each split prepared (rows, tokens, examples, dropped tokens), train first: what
    /// <c>lm-tune data stats</c> shows. Counts cover whole splits, before <c>max_*_samples</c>.
    /// </summary>
    public IReadOnlyList<SplitStats> Stats => new[] { _fullTrain, _fullValidation }.OfType<LmDataset>().Select(d => d.Stats).ToList();

    /// <summary>The preprocessing that produced them (resolved block size, grouping).</summary>
    public PreprocessingOptions Options { get; }

    /// <summary>Things HF would log as warnings (a block size capped at the model's length, ...).</summary>
    public IReadOnlyList<string> Warnings { get; }

    public void Dispose()
    {
        _fullTrain?.Dispose();
        _fullValidation?.Dispose();
    }
}

/// <summary>
/// run_clm.py / run_mlm.py preprocessing from <see cref="DataArguments"/>: load the splits, tokenize in parallel,
/// group into blocks (or keep lines), cache, then select <c>max_train_samples</c> / <c>max_eval_samples</c>.
/// </summary>
public static class DataPipeline
{
    /// <summary>
    /// The raw splits of a job: <c>dataset_name</c> (from the hub cache), else <c>train_file</c> /
    /// <c>validation_file</c>. Without a validation split, validation is the first
    /// <c>validation_split_percentage</c>% of train and train the rest, as run_clm.py's <c>train[:5%]</c> /
    /// <c>train[5%:]</c>. Text files keep their line breaks per <c>keep_linebreaks</c> for clm (run_clm.py); for
    /// mlm they never do, because run_mlm.py loads them with the <c>text</c> builder's default.
    /// </summary>
    public static DatasetSplits OpenSplits(DataArguments args, string? hubCacheDir = null, DataObjective objective = DataObjective.Clm)
    {
        bool keepLinebreaks = objective == DataObjective.Clm && args.KeepLinebreaks;
        DatasetSplits splits;
        if (args.DatasetName is not null)
        {
            splits = HubDatasetCache.Resolve(args.DatasetName, args.DatasetConfigName, hubCacheDir, args.TextColumn);
        }
        else if (args.TrainFile is not null || args.ValidationFile is not null)
        {
            splits = new DatasetSplits(
                args.TrainFile is null ? null : TextSource.FromFile(args.TrainFile, args.TextColumn, keepLinebreaks),
                args.ValidationFile is null ? null : TextSource.FromFile(args.ValidationFile, args.TextColumn, keepLinebreaks),
                null);
        }
        else
        {
            throw new LmException(ErrorCodes.InvalidDataArgument, "no data: give train_file (and validation_file) or dataset_name");
        }

        if (splits.Validation is null && splits.Train is not null)
        {
            int percent = args.ValidationSplitPercentage;
            if (percent is < 0 or > 100)
                throw new LmException(ErrorCodes.InvalidDataArgument, $"validation_split_percentage must be between 0 and 100, got {percent}");
            splits = splits with
            {
                Validation = splits.Train.SlicePercent(null, percent),
                Train = splits.Train.SlicePercent(percent, null),
            };
        }
        return splits;
    }

    /// <summary>
    /// Tokenizes, groups and caches the splits asked for. <paramref name="maxPositionEmbeddings"/> is the model's
    /// (it bounds the default block size for clm). Throws <see cref="LmException"/> for every data problem before
    /// any training starts. Cancelling <paramref name="cancellation"/> stops within one map batch of rows with an
    /// <see cref="OperationCanceledException"/>, leaving no half-written cache entry. <paramref name="rowsTokenized"/>
    /// hears the split's name and its rows tokenized so far after each map batch (a cache hit reports nothing).
    /// </summary>
    public static PreparedData Prepare(DataArguments args, ITextEncoder encoder, DataObjective objective,
        bool train = true, bool validation = true, int? maxPositionEmbeddings = null, string? hubCacheDir = null,
        string? cacheRoot = null, Action<string>? log = null, CancellationToken cancellation = default,
        Action<string, long>? rowsTokenized = null)
    {
        cancellation.ThrowIfCancellationRequested();
        var warnings = new List<string>();
        var options = PreprocessingOptions.From(args, objective, encoder.ModelMaxLength, maxPositionEmbeddings, warnings)
            with { CacheRoot = cacheRoot };
        foreach (string warning in warnings) log?.Invoke("warning: " + warning);

        var splits = OpenSplits(args, hubCacheDir, objective);
        LmDataset? trainSet = null, validationSet = null;
        try
        {
            if (train)
            {
                var source = splits.Train ?? throw new LmException(ErrorCodes.InvalidDataArgument, "training needs train_file or a dataset with a train split");
                trainSet = TokenCache.GetOrBuild(source, "train", encoder, options, log, cancellation, rowsTokenized);
            }
            if (validation)
            {
                var source = splits.Validation ?? throw new LmException(ErrorCodes.InvalidDataArgument, "evaluation needs validation_file or a train split to take it from");
                validationSet = TokenCache.GetOrBuild(source, "validation", encoder, options, log, cancellation, rowsTokenized);
            }
        }
        catch
        {
            trainSet?.Dispose();
            validationSet?.Dispose();
            throw;
        }
        return new PreparedData(trainSet, validationSet, args.MaxTrainSamples, args.MaxEvalSamples, options, warnings);
    }

    /// <summary>
    /// The collator for an objective: causal LM stacks blocks; masked LM masks with the job's
    /// <c>mlm_probability</c>, <c>pad_to_multiple_of</c>, <c>whole_word_mask</c>, seeded with <paramref name="seed"/>.
    /// </summary>
    public static IDataCollator CreateCollator(DataArguments args, DataObjective objective, ITextEncoder encoder,
        PreprocessingOptions options, long seed) => objective switch
    {
        DataObjective.Clm => new CausalLmCollator(encoder.PadTokenId, args.PadToMultipleOf),
        _ => new MaskingCollator(encoder, new MaskingOptions
        {
            MlmProbability = args.MlmProbability,
            PadToMultipleOf = args.PadToMultipleOf,
            PadToLength = args.PadToMaxLength ? options.BlockSize : null,
            WholeWordMask = args.WholeWordMask,
            Seed = seed,
        }),
    };
}
