using System.Globalization;
using Lm.Runtime.Data;
using Lm.Runtime.Data.Chat;
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

    private readonly string? _chatTemplate;

    private JobRunner(FineTuneJob job, ModelSource source, LanguageModel model, PreparedData? data,
        IDataCollator? trainCollator, IDataCollator? evalCollator, IProgress<JobProgress> progress, SupervisedSplits? supervised = null)
    {
        Job = job;
        Source = source;
        Model = model;
        Data = data;
        // A template given by file goes with the model, so the run's output renders conversations as it was trained.
        _chatTemplate = job.Data.ChatTemplatePath is not null ? supervised?.Tokenizer.Template?.Template.Source : null;
        TrainBatches = data?.Train is { } train && trainCollator is not null ? new DatasetBatches(train, trainCollator) : supervised?.Train;
        EvalBatches = data?.Validation is { } validation && evalCollator is not null ? new DatasetBatches(validation, evalCollator) : supervised?.Validation;
        _collators = new[] { trainCollator, evalCollator };
        _progress = progress;
    }

    public FineTuneJob Job { get; }

    /// <summary>Where the model came from, with its configuration and tokenizer.</summary>
    public ModelSource Source { get; }

    /// <summary><c>clm</c> or <c>mlm</c>.</summary>
    public string Objective => Source.Objective(Job.Model);

    public LanguageModel Model { get; }

    /// <summary>The text pipeline's blocks; null for chat and instruction data (TRL's SFT preparation).</summary>
    public PreparedData? Data { get; }

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
        // push_to_hub: the token is found and the repository created (or found) before anything is written, as HF's
        // Trainer does in its constructor.
        using var push = training.PushToHub ? await HubPush.StartAsync(job, report.Report, cancellationToken) : null;
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
        push?.Attach(trainer, cancellationToken);
        var trained = trainer.RunTraining(cancellationToken);
        report.Report(new JobProgress(JobProgressKind.StageFinished) { Stage = JobStage.Train });
        var metrics = new Dictionary<string, double>(trained.Metrics, StringComparer.Ordinal);
        if (push is not null) await push.PushOutputAsync("Model save", run, trainer, metrics, final: false, cancellationToken);
        if (eval)
        {
            foreach (var (key, value) in run.RunEvaluation(trainer, cancellationToken)) metrics[key] = value;
        }
        trainer.WriteReport(metrics);
        if (push is not null) await push.PushOutputAsync("End of training", run, trainer, metrics, final: true, cancellationToken);
        return new JobResult(Path.GetFullPath(training.OutputDir), run.Source.Name, run.Objective, trained.GlobalStep, metrics)
        {
            Parameters = run.Parameters(),
        };
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
        // With LoRA the base is frozen: one copy of its weights, no gradients or AdamW moments for them.
        bool fullTraining = train && !Models.Lora.LoraSetup.Requested(job.Model);
        LanguageModel.EnsureParametersFit(source.Config, LanguageModel.AvailableMemoryBytes(), copies: fullTraining ? 4 : 1);
        cancellation.ThrowIfCancellationRequested();

        // Step 2: the data (downloaded dataset files, then tokenized, grouped and cached).
        await DatasetLocator.EnsureCachedAsync(job.Data, HubSettings.FromEnvironment(job.Model.CacheDir), Info, cancellation);
        var encoder = new LmTokenizerTextEncoder(source.Tokenizer);
        // Chat and instruction rows take TRL's SFT preparation (Data/Chat); text keeps run_clm.py's blocks.
        if (objective == DataObjective.Clm && SupervisedData.DetectFormat(job.Data) is { } format)
        {
            report.Report(new JobProgress(JobProgressKind.StageStarted) { Stage = JobStage.Tokenize });
            var supervised = SupervisedData.Prepare(job.Data, format, source.Tokenizer, source.Config.MaxPositions, train, eval,
                line => report.Report(new JobProgress(JobProgressKind.Log, line)));
            report.Report(new JobProgress(JobProgressKind.StageFinished) { Stage = JobStage.Tokenize });
            TorchRuntime.EnsureLoaded();
            var chatModel = source.CreateModel(job.Model, job.Training.Seed, training: train);
            Info($"model: {chatModel.ArchitectureName}, {chatModel.ParameterCount():N0} parameters, {source.Objective(job.Model)}, on {chatModel.parameters().First().device}");
            return new JobRunner(job, source, chatModel, null, null, null, report, supervised);
        }
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
            var model = source.CreateModel(job.Model, job.Training.Seed, training: train);
            long seed = job.Training.EffectiveDataSeed;
            var trainCollator = data.Train is null ? null : DataPipeline.CreateCollator(job.Data, objective, encoder, data.Options, seed);
            var evalCollator = data.Validation is null ? null : DataPipeline.CreateCollator(job.Data, objective, encoder, data.Options, seed);
            Info($"model: {model.ArchitectureName}, {model.ParameterCount():N0} parameters, {source.Objective(job.Model)}, on {model.parameters().First().device}");
            if (Models.Lora.LoraModel.Of(model) is { } adapter)
                Info($"LoRA: r={adapter.Config.R}, alpha={adapter.Config.LoraAlpha}, {adapter.Layers.Count} adapted layers; " +
                    $"trainable params: {adapter.TrainableParameterCount():N0} || all params: {adapter.TotalParameterCount():N0}");
            return new JobRunner(job, source, model, data, trainCollator, evalCollator, report);
        }
        catch
        {
            data.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The model's trainable and total parameter counts (PEFT's <c>print_trainable_parameters</c>; with LoRA the adapter
    /// and modules_to_save train, the base is frozen) and, for a LoRA run, the adapter's rank and alpha.
    /// </summary>
    public ParameterCounts Parameters() =>
        new(Model.parameters().Where(p => p.requires_grad).Sum(p => p.numel()), Model.ParameterCount(),
            Models.Lora.LoraModel.Of(Model)?.Config);

    /// <summary>
    /// Adds <see cref="Parameters"/> to a JSON result: <c>trainable_parameters</c>, <c>total_parameters</c> and, with an
    /// adapter, <c>lora_r</c> and <c>lora_alpha</c>.
    /// </summary>
    public void AddParameterCounts(System.Text.Json.Nodes.JsonObject json) => Parameters().AddTo(json);

    /// <summary>A trainer over this run's data whose events become <see cref="JobProgress"/> reports.</summary>
    public Trainer CreateTrainer()
    {
        var trainer = new Trainer(Model, Job.Training, TrainBatches, EvalBatches, new TrainerOptions
        {
            Device = Device,
            // The model is saved by the trainer's default (save_pretrained's files, sharded past max_shard_size).
            // LoRA: the trainer saves and restores the adapter only (adapter_config.json, adapter_model.safetensors).
            Adapter = Models.Lora.LoraModel.Of(Model),
            SaveTokenizer = folder => Source.Tokenizer.Save(folder, _chatTemplate),
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
        Data?.Dispose();
    }

    private sealed class NoProgress : IProgress<JobProgress>
    {
        public static readonly NoProgress Instance = new();

        public void Report(JobProgress value)
        {
        }
    }
}
