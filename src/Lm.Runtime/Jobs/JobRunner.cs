using System.Globalization;
using Lm.Runtime.Data;
using Lm.Runtime.Errors;
using Lm.Runtime.Evaluation;
using Lm.Runtime.Hub;
using Lm.Runtime.Models;
using Lm.Runtime.Native;
using Lm.Runtime.Training;
using static TorchSharp.torch;

namespace Lm.Runtime.Jobs;

/// <summary>
/// Runs a fine-tune job in run_clm.py / run_mlm.py's order: resolve the model (preset, local folder or hub), check
/// the block size against it, tokenize and group the data (token cache), build the model, train, evaluate and write
/// the output folder. Used by the command line (<c>lm-tune train</c>, <c>evaluate</c>, <c>quickstart</c>) and by
/// library code (<c>MyJob.CreateJob().Run(progress, cancellationToken)</c>); it writes nothing to the console, it
/// reports through an <see cref="IProgress{T}"/> of <see cref="JobProgress"/>.
/// </summary>
public sealed class JobRunner : IDisposable
{
    private readonly IProgress<JobProgress> _progress;
    private readonly IDataCollator?[] _collators;

    private JobRunner(FineTuneJob job, ModelSource source, LanguageModel model, PreparedData data,
        IDataCollator? trainCollator, IDataCollator? evalCollator, IProgress<JobProgress> progress)
    {
        Job = job;
        Source = source;
        Model = model;
        Data = data;
        TrainBatches = data.Train is { } train && trainCollator is not null ? new DatasetBatches(train, trainCollator) : null;
        EvalBatches = data.Validation is { } validation && evalCollator is not null ? new DatasetBatches(validation, evalCollator) : null;
        _collators = new[] { trainCollator, evalCollator };
        _progress = progress;
    }

    public FineTuneJob Job { get; }

    /// <summary>Where the model came from, with its configuration and tokenizer.</summary>
    public ModelSource Source { get; }

    /// <summary><c>clm</c> or <c>mlm</c>.</summary>
    public string Objective => Source.Objective(Job.Model);

    public LanguageModel Model { get; }

    public PreparedData Data { get; }

    public IBatchSource? TrainBatches { get; }

    public IBatchSource? EvalBatches { get; }

    public Device Device => Model.parameters().First().device;

    /// <summary>
    /// Runs <paramref name="job"/> as <c>lm-tune train</c> does (training is implied, as the build's training step
    /// asks for it): the output folder's rules (a non-empty folder is refused unless <c>overwrite_output_dir</c>, a
    /// complete <c>checkpoint-N</c> in it is resumed from), training, evaluation when <c>do_eval</c> or an
    /// <c>eval_strategy</c> asks for it, and the output folder written as run_clm.py writes it plus
    /// <c>report.html</c>. Relative paths are relative to the current directory. Cancelling
    /// <paramref name="cancellationToken"/> stops data preparation and evaluation within a batch
    /// (<see cref="OperationCanceledException"/>, nothing half-written left) and training at the next optimizer
    /// step (LM0413, after writing a checkpoint).
    /// </summary>
    public static async Task<JobResult> RunAsync(FineTuneJob job, IProgress<JobProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        job.Validate();
        var report = progress ?? NoProgress.Instance;
        var training = job.Training;
        string? lastCheckpoint = OutputFolder.Prepare(training.OutputDir, training.OverwriteOutputDir, resumeAllowed: true,
            line => report.Report(new JobProgress(JobProgressKind.Info, line)));
        if (lastCheckpoint is not null && training.ResumeFromCheckpoint is null)
        {
            report.Report(new JobProgress(JobProgressKind.Info,
                $"checkpoint detected, resuming training at {lastCheckpoint}; use --overwrite-output-dir to train from scratch"));
            training.ResumeFromCheckpoint = lastCheckpoint;
        }
        // HF: an evaluation strategy other than "no" implies do_eval.
        bool eval = training.DoEval || training.EvalStrategy != IntervalStrategy.No;

        using var run = await OpenAsync(job, train: true, eval, report, cancellationToken);
        using var trainer = run.CreateTrainer();
        var trained = trainer.RunTraining(cancellationToken);
        report.Report(new JobProgress(JobProgressKind.StageFinished) { Stage = JobStage.Train });
        var metrics = new Dictionary<string, double>(trained.Metrics, StringComparer.Ordinal);
        if (eval)
        {
            foreach (var (key, value) in run.RunEvaluation(trainer, cancellationToken)) metrics[key] = value;
        }
        trainer.WriteReport(metrics);
        return new JobResult(Path.GetFullPath(training.OutputDir), run.Source.Name, run.Objective, trained.GlobalStep, metrics);
    }

    /// <summary><see cref="RunAsync"/>, waiting for the result (for app code without an async context).</summary>
    public static JobResult Run(FineTuneJob job, IProgress<JobProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Task.Run(() => RunAsync(job, progress, cancellationToken), CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>
    /// Resolves, checks and prepares everything a run needs; <paramref name="train"/> / <paramref name="eval"/> pick
    /// the splits. The caller disposes the runner (model, data, collators).
    /// </summary>
    public static async Task<JobRunner> OpenAsync(FineTuneJob job, bool train, bool eval, IProgress<JobProgress>? progress,
        CancellationToken cancellation)
    {
        var report = progress ?? NoProgress.Instance;
        void Info(string line) => report.Report(new JobProgress(JobProgressKind.Info, line));

        // Step 1: the model's source (config and tokenizer; downloads when the job names a hub id). No weights yet.
        var source = await ModelSource.ResolveAsync(job.Model, Info,
            line => report.Report(new JobProgress(JobProgressKind.Detail, line)), cancellation);
        var objective = source.Objective(job.Model) == "clm" ? DataObjective.Clm : DataObjective.Mlm;
        CheckBlockSize(job.Data, source.Config, objective);
        // Before tokenizing: a model that cannot fit is refused in a second, not after the data is prepared.
        LanguageModel.EnsureParametersFit(source.Config, LanguageModel.AvailableMemoryBytes(), copies: train ? 4 : 1);
        cancellation.ThrowIfCancellationRequested();

        // Step 2: the data (downloaded dataset files, then tokenized, grouped and cached).
        await DatasetLocator.EnsureCachedAsync(job.Data, HubSettings.FromEnvironment(job.Model.CacheDir), Info, cancellation);
        var encoder = new LmTokenizerTextEncoder(source.Tokenizer);
        report.Report(new JobProgress(JobProgressKind.StageStarted) { Stage = JobStage.Tokenize });
        var data = DataPipeline.Prepare(job.Data, encoder, objective, train, eval, source.Config.MaxPositions,
            hubCacheDir: job.Model.CacheDir, log: line => report.Report(new JobProgress(JobProgressKind.Log, line)),
            cancellation: cancellation,
            rowsTokenized: (split, rows) => report.Report(new JobProgress(JobProgressKind.StageAdvanced, split) { Stage = JobStage.Tokenize, Done = rows }));
        report.Report(new JobProgress(JobProgressKind.StageFinished) { Stage = JobStage.Tokenize });
        try
        {
            // Step 3: the model (weights read, or drawn with the job's seed) and the collators.
            TorchRuntime.EnsureLoaded();
            var model = source.CreateModel(job.Model, job.Training.Seed);
            long seed = job.Training.EffectiveDataSeed;
            var trainCollator = data.Train is null ? null : DataPipeline.CreateCollator(job.Data, objective, encoder, data.Options, seed);
            var evalCollator = data.Validation is null ? null : DataPipeline.CreateCollator(job.Data, objective, encoder, data.Options, seed);
            Info($"model: {model.ArchitectureName}, {model.ParameterCount():N0} parameters, {source.Objective(job.Model)}, on {model.parameters().First().device}");
            return new JobRunner(job, source, model, data, trainCollator, evalCollator, report);
        }
        catch
        {
            data.Dispose();
            throw;
        }
    }

    /// <summary>A trainer over this run's data whose events become <see cref="JobProgress"/> reports.</summary>
    public Trainer CreateTrainer()
    {
        var trainer = new Trainer(Model, Job.Training, TrainBatches, EvalBatches, new TrainerOptions
        {
            Device = Device,
            // save_pretrained's files, generation_config.json included for causal LMs.
            SaveModel = PretrainedModel.Save,
            SaveTokenizer = folder => Source.Tokenizer.Save(folder),
        });
        double? learningRate = null;
        trainer.TrainBegin += (_, e) =>
        {
            _progress.Report(new JobProgress(JobProgressKind.StageStarted) { Stage = JobStage.Train, Total = e.MaxSteps });
            if (e.StartStep > 0)
                _progress.Report(new JobProgress(JobProgressKind.StageAdvanced) { Stage = JobStage.Train, Done = e.StartStep, Step = e.StartStep });
            _progress.Report(new JobProgress(JobProgressKind.Info,
                $"training: {e.NumExamples:N0} examples, {e.NumTrainEpochs} epochs, {e.MaxSteps:N0} optimizer steps" +
                (e.StartStep > 0 ? $", resuming at step {e.StartStep}" : "")));
        };
        trainer.StepEnd += (_, e) =>
        {
            string metrics = (e.Loss is float loss ? $"loss {loss.ToString("0.000", CultureInfo.InvariantCulture)}" : "") +
                (learningRate is double lr ? $"  lr {lr.ToString("0.0e+0", CultureInfo.InvariantCulture)}" : "");
            _progress.Report(new JobProgress(JobProgressKind.StageAdvanced, metrics.Trim())
            {
                Stage = JobStage.Train, Done = e.GlobalStep, Step = e.GlobalStep, Loss = e.Loss, LearningRate = learningRate,
            });
        };
        trainer.Logged += (_, e) =>
        {
            if (e.Entry.TryGetValue("learning_rate", out double lr)) learningRate = lr;
            var values = e.Entry.Values.ToList();
            _progress.Report(new JobProgress(JobProgressKind.Log,
                $"step {e.Entry.Step}: " + string.Join(", ", values.Select(p => $"{p.Key} {JobProgress.FormatNumber(p.Value)}")))
            {
                Step = e.Entry.Step, Metrics = values.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal),
            });
        };
        trainer.Saved += (_, e) => _progress.Report(new JobProgress(JobProgressKind.Detail, $"checkpoint {e.Folder}") { Step = e.GlobalStep });
        trainer.Warning += (_, e) => _progress.Report(new JobProgress(JobProgressKind.Warning, e.Message));
        return trainer;
    }

    /// <summary>eval_loss and perplexity of the model as it is now, without writing files (quick start's "before").</summary>
    public Dictionary<string, double> EvaluateNow(CancellationToken cancellation = default)
    {
        var data = EvalBatches ?? throw new LmException(ErrorCodes.NoTrainingData, "evaluation needs validation data");
        int batchSize = Job.Training.PerDeviceEvalBatchSize;
        _progress.Report(new JobProgress(JobProgressKind.StageStarted) { Stage = JobStage.Eval, Total = (data.Count + batchSize - 1) / batchSize });
        var metrics = new Evaluator(Model, data, batchSize, Device, Job.Training.LabelSmoothingFactor).Evaluate(cancellation: cancellation);
        _progress.Report(new JobProgress(JobProgressKind.StageFinished) { Stage = JobStage.Eval });
        metrics["eval_samples"] = data.Count;
        metrics["perplexity"] = Evaluator.Perplexity(metrics["eval_loss"]);
        return metrics;
    }

    /// <summary>run_clm.py's final evaluation through the trainer (eval_results.json, all_results.json).</summary>
    public Dictionary<string, double> RunEvaluation(Trainer trainer, CancellationToken cancellation = default)
    {
        int batchSize = Job.Training.PerDeviceEvalBatchSize;
        _progress.Report(new JobProgress(JobProgressKind.StageStarted) { Stage = JobStage.Eval, Total = (trainer.EvalSampleCount + batchSize - 1) / batchSize });
        var metrics = trainer.RunEvaluation(cancellation);
        _progress.Report(new JobProgress(JobProgressKind.StageFinished) { Stage = JobStage.Eval });
        _progress.Report(new JobProgress(JobProgressKind.Evaluated,
            $"eval: loss {JobProgress.FormatNumber(metrics["eval_loss"])}, perplexity {JobProgress.FormatNumber(metrics["perplexity"])}")
        {
            Step = trainer.State.GlobalStep, Metrics = new Dictionary<string, double>(metrics, StringComparer.Ordinal),
        });
        return metrics;
    }

    /// <summary>
    /// Refuses a block (or sequence) length the model's position embeddings cannot hold, before any tokenizing:
    /// HF would only fail at the first forward pass.
    /// </summary>
    private static void CheckBlockSize(DataArguments data, ModelConfig config, DataObjective objective)
    {
        int? asked = objective == DataObjective.Mlm ? data.MaxSeqLength ?? data.BlockSize : data.BlockSize;
        string name = objective == DataObjective.Mlm && data.MaxSeqLength is not null ? "--max-seq-length" : "--block-size";
        if (asked is int size && size > config.MaxPositions)
            throw new LmException(ErrorCodes.BlockSizeTooLarge,
                $"{name} {size} is larger than the {config.MaxPositions} positions of the model ({config.ModelType}); use at most {config.MaxPositions}");
    }

    public void Dispose()
    {
        foreach (var collator in _collators) (collator as IDisposable)?.Dispose();
        Model.Dispose();
        Data.Dispose();
    }

    private sealed class NoProgress : IProgress<JobProgress>
    {
        public static readonly NoProgress Instance = new();

        public void Report(JobProgress value)
        {
        }
    }
}
