using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lm.Runtime.Checkpoints;
using Lm.Runtime.Data;
using Lm.Runtime.Errors;
using Lm.Runtime.Evaluation;
using Lm.Runtime.Models;
using Lm.Runtime.Models.Lora;
using Lm.Runtime.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Lm.Runtime.Files;

namespace Lm.Runtime.Training;

/// <summary>What the trainer needs besides the model, the arguments and the data.</summary>
public sealed class TrainerOptions
{
    /// <summary>Where the model computes; the CPU by default.</summary>
    public Device? Device { get; init; }

    /// <summary>
    /// Writes the model as an HF folder; by default <see cref="PretrainedModel.Save(LanguageModel, string, long)"/> with
    /// the arguments' <c>max_shard_size</c>.
    /// </summary>
    public Action<LanguageModel, string>? SaveModel { get; init; }

    /// <summary>
    /// A LoRA run's adapter: saves and checkpoints hold the adapter only (PEFT's files, which take the place of
    /// <see cref="SaveModel"/>'s), and a resume restores its parameters; the frozen base is not written.
    /// </summary>
    public LoraModel? Adapter { get; init; }

    /// <summary>Writes the tokenizer files next to each saved model (HF's <c>processing_class.save_pretrained</c>).</summary>
    public Action<string>? SaveTokenizer { get; init; }

    /// <summary>Collect .NET garbage every this many optimizer steps (TorchSharp tensors free native memory on collection); 0 never.</summary>
    public int GcEverySteps { get; init; } = 1;

    /// <summary>
    /// Positions per chunk of the training loss (<see cref="ChunkedCrossEntropy"/>: the LM head and the cross entropy
    /// a chunk at a time, never the whole float32 logits). Null, the default, decides per micro-batch
    /// (<see cref="ChunkedCrossEntropy.DefaultChunkTokens"/>): chunks of at most 64 MiB of float32 logits when the
    /// batch's logits would take more, else the plain loss.
    /// 0 always computes the plain loss. Evaluation always computes the whole logits (it reports accuracy from them).
    /// </summary>
    public long? LossChunkTokens { get; init; }

    /// <summary>The clock the default <c>logging_dir</c> name comes from.</summary>
    public Func<DateTime>? Now { get; init; }
}

/// <summary>HF's <c>TrainOutput</c>: steps done, the mean training loss, and the metrics run_clm.py saves.</summary>
public sealed record TrainOutput(int GlobalStep, double TrainingLoss, IReadOnlyDictionary<string, double> Metrics);

/// <summary>
/// Hugging Face's <c>Trainer</c> (transformers 4.57, <c>optim="adamw_torch"</c>) for causal and masked language
/// models: the same step count, data order, loss averaging, learning rates, clipping, logging, evaluation,
/// checkpointing and output files. Where HF is not exact on resume, lm-tune is: a run resumed from a checkpoint
/// continues bit for bit as if it had never stopped. The trainer writes nothing to the console; it raises events.
/// </summary>
public sealed partial class Trainer : IDisposable
{
    private readonly LanguageModel _model;
    private readonly TrainingArguments _args;
    private readonly IBatchSource? _trainData;
    private readonly IBatchSource? _evalData;
    private readonly TrainerOptions _options;
    private readonly CheckpointManager _checkpoints;
    private readonly Device _device;
    private Evaluator? _evaluator;
    private AdamWOptimizer? _optimizer;
    private LrScheduler? _scheduler;
    private TensorBoardLogger? _tensorBoard;
    private bool _modelInBf16;

    // The loop's bookkeeping, named as HF's (tr_loss, _total_loss_scalar, _globalstep_last_logged, current_flos).
    private float _trLoss;
    private double _totalLossScalar;
    private int _globalStepLastLogged;
    private double _currentFlos;
    private int _earlyStoppingCounter;
    private int _lastSavedStep = -1;
    // HF's loop variables grad_norm and learning_rate: the last step's, also used by the epoch-end log.
    private float? _gradNorm;
    private double? _learningRate;
    private bool _epochEndPending;
    private readonly Control _control = new();

    public Trainer(LanguageModel model, TrainingArguments args, IBatchSource? trainData, IBatchSource? evalData = null,
        TrainerOptions? options = null)
    {
        args.Validate();
        _model = model;
        _args = args;
        _trainData = trainData;
        _evalData = evalData;
        _options = options ?? new TrainerOptions();
        _device = _options.Device ?? CPU;
        _checkpoints = new CheckpointManager(args.OutputDir);
        State.StatefulCallbacks = StatefulCallbacks();
    }

    /// <summary>HF's <c>trainer.state</c>; <see cref="SaveState"/> writes it as trainer_state.json.</summary>
    public TrainerState State { get; private set; } = new();

    /// <summary>The arguments the trainer runs with.</summary>
    public TrainingArguments Arguments => _args;

    public event EventHandler<TrainBeginEventArgs>? TrainBegin;
    public event EventHandler<TrainerStepEventArgs>? StepBegin;
    public event EventHandler<TrainerStepEventArgs>? StepEnd;
    public event EventHandler<TrainerLogEventArgs>? Logged;
    public event EventHandler<TrainerEvaluationEventArgs>? Evaluated;
    public event EventHandler<TrainerSaveEventArgs>? Saved;
    public event EventHandler<TrainerWarningEventArgs>? Warning;

    /// <summary>
    /// Trains as HF's <c>trainer.train(resume_from_checkpoint=args.resume_from_checkpoint)</c>. Cancelling
    /// <paramref name="cancellationToken"/> stops after the current optimizer step, writes a checkpoint and throws
    /// LM0413 naming it; a NaN or infinite loss throws LM0410 without saving.
    /// </summary>
    public TrainOutput Train(CancellationToken cancellationToken = default)
    {
        if (_trainData is null || _trainData.Count == 0)
            throw new LmException(ErrorCodes.NoTrainingData, "training needs train data with at least one example");
        int batchSize = _args.PerDeviceTrainBatchSize;
        int accumulation = _args.GradientAccumulationSteps;
        int examples = _trainData.Count;
        int batchesPerEpoch = _args.DataloaderDropLast ? examples / batchSize : (examples + batchSize - 1) / batchSize;
        if (batchesPerEpoch == 0)
            throw new LmException(ErrorCodes.NoTrainingData,
                $"the {examples} training examples do not fill one batch of {batchSize} with dataloader_drop_last");

        // HF's set_initial_training_values (the last, partial accumulation window of an epoch counts as a step).
        int updatesPerEpoch = Math.Max(batchesPerEpoch / accumulation + (batchesPerEpoch % accumulation > 0 ? 1 : 0), 1);
        int maxSteps = _args.MaxSteps > 0 ? _args.MaxSteps : (int)Math.Ceiling(_args.NumTrainEpochs * updatesPerEpoch);
        int numTrainEpochs = _args.MaxSteps > 0
            ? maxSteps / updatesPerEpoch + (maxSteps % updatesPerEpoch > 0 ? 1 : 0)
            : (int)Math.Ceiling(_args.NumTrainEpochs);
        double numTrainSamples = _args.MaxSteps > 0 ? (double)maxSteps * batchSize * accumulation : examples * _args.NumTrainEpochs;

        // HF's Trainer.train: model.gradient_checkpointing_enable() when the argument is set (left on afterwards, as HF).
        if (_args.GradientCheckpointing)
        {
            GradientCheckpoint.EnsureReproducible(_model, _device);
            _model.GradientCheckpointing = true;
        }
        manual_seed(_args.Seed);
        EnsureOnDevice();
        _optimizer?.Dispose();
        // The fp32 masters are taken before the model is cast, so bf16 training starts from the exact weights.
        // A LoRA run's trainable parameters stay float32 under bf16 (Trainer.LoraBf16.cs): no masters needed.
        _optimizer = AdamWOptimizer.ForModel(_model, _args, keepFp32Master: _args.Bf16 && _options.Adapter is null);
        if (_args.Bf16 && _options.Adapter is { } loraAdapter)
        {
            CastFrozenBaseToBf16(loraAdapter);
        }
        else if (_args.Bf16)
        {
            _model.to(ScalarType.BFloat16);
            _optimizer.Rebind(_model);
            _modelInBf16 = true;
        }
        _scheduler = new LrScheduler(_args, maxSteps);
        _optimizer.ZeroGrad(); // HF's model.zero_grad() before the loop
        State = new TrainerState { TrainBatchSize = batchSize, MaxSteps = maxSteps, NumTrainEpochs = numTrainEpochs, Epoch = 0 };
        State.ComputeSteps(_args, maxSteps);
        State.StatefulCallbacks = StatefulCallbacks();
        ResetLoop();

        int windowsToSkip = 0, epochsTrained = 0;
        if (_args.ResumeFromCheckpoint is string resume)
        {
            string folder = _checkpoints.Resolve(resume, out var skipped);
            foreach (var incomplete in skipped)
                RaiseWarning($"ignored incomplete checkpoint {incomplete}");
            LoadCheckpoint(folder, maxSteps, numTrainEpochs);
            epochsTrained = State.GlobalStep / updatesPerEpoch;
            windowsToSkip = State.GlobalStep % updatesPerEpoch;
        }
        _tensorBoard = _args.ReportTo == "none" ? null
            : new TensorBoardLogger(_args.LoggingDir ?? TensorBoardLogger.DefaultLoggingDir(_args.OutputDir, (_options.Now ?? (() => DateTime.Now))()),
                ArgumentsJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        TrainBegin?.Invoke(this, new TrainBeginEventArgs(maxSteps, numTrainEpochs, examples, State.GlobalStep));

        var clock = Stopwatch.StartNew();
        if (_args.EvalOnStart && State.GlobalStep == 0) Evaluate();
        // A checkpoint written by the last step of an epoch (or of training) comes before that epoch's end.
        if (_epochEndPending) EpochEnd();

        for (int epoch = epochsTrained; epoch < numTrainEpochs && !_control.ShouldTrainingStop; epoch++)
        {
            _control.ShouldEpochStop = false;
            var batches = EpochBatches(examples, batchSize, epoch);
            int remainder = batchesPerEpoch % accumulation == 0 ? accumulation : batchesPerEpoch % accumulation;
            int totalUpdates = batchesPerEpoch / accumulation + (remainder < accumulation ? 1 : 0);
            int step = -1;
            for (int update = 0; update < totalUpdates; update++)
            {
                int windowSize = update != totalUpdates - 1 ? accumulation : remainder;
                if (epoch == epochsTrained && windowsToSkip > 0)
                {
                    // Resuming: these windows were trained before the checkpoint; nothing of them is drawn again.
                    windowsToSkip--;
                    step += windowSize;
                    continue;
                }
                TrainWindow(batches, step + 1, windowSize, epoch, batchesPerEpoch, accumulation, cancellationToken);
                step += windowSize;
                if (_control.ShouldEpochStop || _control.ShouldTrainingStop) break;
            }
            EpochEnd();
        }

        if (_args.LoadBestModelAtEnd && State.BestModelCheckpoint is string best) LoadModelWeights(best);
        _totalLossScalar += _trLoss;
        _trLoss = 0;
        double trainLoss = _totalLossScalar / Math.Max(State.GlobalStep, 0.001);
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var (key, value) in SpeedMetrics.Compute("train", clock.Elapsed.TotalSeconds, numTrainSamples, State.MaxSteps))
            metrics[key] = value;
        StoreFlos();
        metrics["total_flos"] = State.TotalFlos;
        metrics["train_loss"] = trainLoss;
        Log(metrics);
        if (_args.SaveTotalLimit == 1 && State.BestModelCheckpoint is string bestFolder) _checkpoints.KeepOnlyBest(bestFolder);
        RestoreFp32Model();
        RestoreFrozenFp32Base();
        return new TrainOutput(State.GlobalStep, trainLoss, metrics);
    }

    /// <summary>
    /// HF's <c>trainer.evaluate()</c>: the evaluation metrics (<c>eval_loss</c>, <c>eval_accuracy</c>, speed), also
    /// appended to <see cref="TrainerState.LogHistory"/> with the current epoch. Cancelling
    /// <paramref name="cancellationToken"/> stops before the next batch (<see cref="OperationCanceledException"/>);
    /// the evaluations inside <see cref="Train"/> run to their end, and training then stops at that step.
    /// </summary>
    public Dictionary<string, double> Evaluate(CancellationToken cancellationToken = default)
    {
        if (_evalData is null) throw new LmException(ErrorCodes.NoTrainingData, "evaluation needs validation data");
        EnsureOnDevice();
        _evaluator ??= new Evaluator(_model, _evalData, _args.PerDeviceEvalBatchSize, _device, _args.LabelSmoothingFactor);
        var metrics = _evaluator.Evaluate(cancellation: cancellationToken);
        Log(metrics);
        Evaluated?.Invoke(this, new TrainerEvaluationEventArgs(State.GlobalStep, metrics));
        CheckEarlyStopping(metrics);
        return metrics;
    }

    /// <summary>Number of evaluation examples (run_clm.py's <c>eval_samples</c>); 0 without validation data.</summary>
    public int EvalSampleCount => _evalData?.Count ?? 0;

    /// <summary>HF's <c>trainer.save_model()</c>: the model (fp32 weights) and tokenizer into <paramref name="folder"/> (default output_dir).</summary>
    public void SaveModel(string? folder = null)
    {
        folder ??= _args.OutputDir;
        Directory.CreateDirectory(folder);
        WriteModel(folder);
        AtomicFile.WriteAllText(Path.Combine(folder, "training_args.json"), TrainingArgumentsJson());
    }

    /// <summary>HF's <c>trainer.save_state()</c>: <c>output_dir/trainer_state.json</c>.</summary>
    public void SaveState() => AtomicFile.WriteAllText(Path.Combine(_args.OutputDir, "trainer_state.json"), State.ToJson());

    /// <summary>
    /// HF's <c>trainer.save_metrics(split, metrics)</c>: <c>{split}_results.json</c> and the merged
    /// <c>all_results.json</c> (indent 4, sorted keys).
    /// </summary>
    public void SaveMetrics(string split, IReadOnlyDictionary<string, double> metrics) =>
        RunResults.Save(_args.OutputDir, split, metrics);

    /// <summary>
    /// run_clm.py's "Training" section: <see cref="Train"/>, <c>save_model()</c>, train metrics with
    /// <c>train_samples</c> to train_results.json / all_results.json, <c>save_state()</c>.
    /// </summary>
    public TrainOutput RunTraining(CancellationToken cancellationToken = default)
    {
        var output = Train(cancellationToken);
        SaveModel();
        var metrics = new Dictionary<string, double>(output.Metrics, StringComparer.Ordinal) { ["train_samples"] = _trainData!.Count };
        SaveMetrics("train", metrics);
        SaveState();
        return output with { Metrics = metrics };
    }

    /// <summary>
    /// run_clm.py's "Evaluation" section: <see cref="Evaluate"/> plus <c>eval_samples</c> and <c>perplexity</c>
    /// (<c>exp(eval_loss)</c>, infinity on overflow), saved to eval_results.json / all_results.json; a cancelled
    /// evaluation writes no results file.
    /// </summary>
    public Dictionary<string, double> RunEvaluation(CancellationToken cancellationToken = default)
    {
        var metrics = Evaluate(cancellationToken);
        metrics["eval_samples"] = _evalData!.Count;
        metrics["perplexity"] = Evaluator.Perplexity(metrics["eval_loss"]);
        SaveMetrics("eval", metrics);
        return metrics;
    }

    /// <summary>Writes output_dir/report.html: the final metrics and loss and learning-rate curves.</summary>
    public void WriteReport(IReadOnlyDictionary<string, double> metrics, string title = "lm-tune training report") =>
        TrainingReport.Write(Path.Combine(_args.OutputDir, "report.html"), title, State, metrics);

    public void Dispose()
    {
        // The frozen base of a bf16 LoRA run that did not finish goes back to its float32 values.
        if (_optimizer is not null) RestoreFrozenFp32Base();
        _optimizer?.Dispose();
        _optimizer = null;
    }

    // ---- the loop -------------------------------------------------------------------------------------------

    /// <summary>One accumulation window: <paramref name="windowSize"/> micro-batches, then one optimizer step.</summary>
    private void TrainWindow(List<int[]> batches, int firstBatch, int windowSize, int epoch, int batchesPerEpoch,
        int accumulation, CancellationToken cancellationToken)
    {
        var optimizer = _optimizer!;
        // HF's get_batch_samples: the window's batches are formed first, and their labels counted together.
        var window = new List<Batch>(windowSize);
        float stepLoss = 0;
        try
        {
            long items = 0;
            for (int i = 0; i < windowSize; i++)
            {
                var batch = ToDevice(_trainData!.Collate(batches[firstBatch + i]));
                window.Add(batch);
                items += TrainingLoss.CountItems(batch.Labels);
            }
            for (int i = 0; i < windowSize; i++)
            {
                int step = firstBatch + i;
                if (step % accumulation == 0)
                {
                    _control.NewStep();
                    StepBegin?.Invoke(this, new TrainerStepEventArgs(State.GlobalStep, State.MaxSteps, State.Epoch ?? 0));
                }
                float loss = TrainingStep(window[i], items);
                if (!float.IsFinite(loss))
                    throw new LmException(ErrorCodes.TrainingDiverged,
                        $"the training loss became {loss} at step {State.GlobalStep + 1} (epoch {epoch}); " +
                        (_lastSavedStep > 0 ? $"the last good checkpoint is '{_checkpoints.FolderFor(_lastSavedStep)}'" : "no checkpoint was saved yet") +
                        "; lower learning_rate or add warmup");
                _trLoss += loss;
                stepLoss += loss;
                _currentFlos += FloatingPointOps(window[i]);
            }
        }
        finally
        {
            foreach (var batch in window) batch.Dispose();
        }

        double learningRate = _scheduler!.LearningRate;
        _learningRate = learningRate;
        optimizer.LearningRate = learningRate;
        if (_args.MaxGradNorm > 0)
        {
            // clip_grad_norm_ then optimizer.step(), the clipping's scaling done inside the update's pass.
            using var norm = optimizer.ClipGradNormAndStep(_args.MaxGradNorm);
            _gradNorm = norm.item<float>();
        }
        else
        {
            optimizer.Step();
        }
        _scheduler.Step();
        optimizer.ZeroGrad();
        State.GlobalStep++;
        State.Epoch = epoch + (double)(firstBatch + windowSize) / batchesPerEpoch;

        // HF's DefaultFlowCallback.on_step_end.
        if (State.GlobalStep == 1 && _args.LoggingFirstStep) _control.ShouldLog = true;
        if (_args.LoggingStrategy == IntervalStrategy.Steps && State.GlobalStep % State.LoggingSteps == 0) _control.ShouldLog = true;
        if (_args.EvalStrategy == IntervalStrategy.Steps && State.GlobalStep % State.EvalSteps == 0) _control.ShouldEvaluate = true;
        if (_args.SaveStrategy == IntervalStrategy.Steps && State.SaveSteps > 0 && State.GlobalStep % State.SaveSteps == 0) _control.ShouldSave = true;
        if (State.GlobalStep >= State.MaxSteps)
        {
            _control.ShouldTrainingStop = true;
            if (_args.SaveStrategy == IntervalStrategy.Steps) _control.ShouldSave = true;
        }
        StepEnd?.Invoke(this, new TrainerStepEventArgs(State.GlobalStep, State.MaxSteps, State.Epoch.Value, stepLoss));
        // Until EpochEnd runs, a checkpoint of this step must remember that the epoch's end is still to come.
        _epochEndPending = firstBatch + windowSize == batchesPerEpoch || _control.ShouldTrainingStop;
        MaybeLogSaveEvaluate();
        _epochEndPending |= _control.ShouldTrainingStop;
        if (_options.GcEverySteps > 0 && State.GlobalStep % _options.GcEverySteps == 0) GC.Collect();

        if (cancellationToken.IsCancellationRequested)
        {
            if (_lastSavedStep != State.GlobalStep) SaveCheckpoint();
            string folder = _checkpoints.FolderFor(State.GlobalStep);
            throw new LmException(ErrorCodes.TrainingCancelled,
                $"training cancelled after step {State.GlobalStep} of {State.MaxSteps}; checkpoint saved to '{folder}'. " +
                $"Resume with resume_from_checkpoint='{folder}' (or 'last')")
            { File = folder };
        }
    }

    private float TrainingStep(Batch batch, long itemsInWindow)
    {
        using var scope = NewDisposeScope();
        _model.train();
        // A window with no label to predict (possible in masked LM) contributes nothing; HF would divide by zero.
        if (itemsInWindow == 0) return 0f;
        bool causal = _model.Objective == TrainingObjective.CausalLm;
        Tensor loss;
        long chunk = LossChunkTokens(batch.InputIds);
        if (chunk > 0 && _model.ForwardToHead(batch.InputIds, batch.AttentionMask) is { } head)
        {
            loss = ChunkedCrossEntropy.Loss(head, batch.Labels, causal, itemsInWindow, _args.LabelSmoothingFactor, chunk);
        }
        else
        {
            var output = _model.Forward(batch.InputIds, batch.AttentionMask);
            // Held to the end of the micro-step: a temporary Scalar can be finalized during the native call (see ScalarCache).
            using Scalar itemsInWindowScalar = itemsInWindow;
            // HF's compute_loss: with label smoothing, the smoother's mean over this micro-batch (not divided by the window).
            loss = _args.LabelSmoothingFactor != 0
                ? LabelSmoother.Loss(output.Logits, batch.Labels, _args.LabelSmoothingFactor, causal)
                : TrainingLoss.Summed(_model.Objective, output.Logits, batch.Labels).div(itemsInWindowScalar);
        }
        loss.backward();
        ReturnedGradients.Release();
        return loss.item<float>();
    }

    /// <summary>Positions per chunk of this micro-batch's loss; 0 for the plain loss (see <see cref="TrainerOptions.LossChunkTokens"/>).</summary>
    private long LossChunkTokens(Tensor inputIds)
    {
        if (_options.LossChunkTokens is long chosen) return Math.Max(chosen, 0);
        return ChunkedCrossEntropy.DefaultChunkTokens(inputIds.numel(), _model.VocabSize);
    }

    private void EnsureOnDevice()
    {
        // Moving a module replaces its parameters; only move when needed so the optimizer's references stay valid.
        if (_model.parameters().FirstOrDefault() is { } first && first.device != _device)
        {
            _model.to(_device);
            _optimizer?.Rebind(_model);
        }
    }

    private Batch ToDevice(Batch batch)
    {
        if (batch.InputIds.device == _device) return batch;
        var moved = batch.To(_device);
        batch.Dispose();
        return moved;
    }

    /// <summary>The epoch's batches: HF's <c>SeedableRandomSampler</c> order, <c>randperm(n)</c> from a generator seeded with data_seed + epoch.</summary>
    private List<int[]> EpochBatches(int examples, int batchSize, int epoch)
    {
        using var generator = new Generator((ulong)(_args.EffectiveDataSeed + epoch));
        using var permutation = randperm(examples, generator: generator);
        long[] order = permutation.data<long>().ToArray();
        var batches = new List<int[]>();
        for (int start = 0; start < order.Length; start += batchSize)
        {
            int count = Math.Min(batchSize, order.Length - start);
            if (count < batchSize && _args.DataloaderDropLast) break;
            batches.Add(order.Skip(start).Take(count).Select(i => (int)i).ToArray());
        }
        return batches;
    }

    /// <summary>HF's <c>DefaultFlowCallback.on_epoch_end</c> and the <c>_maybe_log_save_evaluate</c> after it.</summary>
    private void EpochEnd()
    {
        _epochEndPending = false;
        if (_args.LoggingStrategy == IntervalStrategy.Epoch) _control.ShouldLog = true;
        if (_args.EvalStrategy == IntervalStrategy.Epoch) _control.ShouldEvaluate = true;
        if (_args.SaveStrategy == IntervalStrategy.Epoch) _control.ShouldSave = true;
        MaybeLogSaveEvaluate();
    }

    /// <summary>HF's <c>_maybe_log_save_evaluate</c>.</summary>
    private void MaybeLogSaveEvaluate()
    {
        if (_control.ShouldLog && State.GlobalStep > _globalStepLastLogged)
        {
            double trLossScalar = _trLoss;
            _trLoss = 0;
            var logs = new Dictionary<string, double>(StringComparer.Ordinal)
            {
                ["loss"] = SpeedMetrics.PythonRound(trLossScalar / (State.GlobalStep - _globalStepLastLogged), 4),
            };
            if (_gradNorm is float norm) logs["grad_norm"] = norm;
            logs["learning_rate"] = _learningRate ?? _scheduler!.LearningRate;
            _totalLossScalar += trLossScalar;
            _globalStepLastLogged = State.GlobalStep;
            StoreFlos();
            Log(logs);
        }
        if (_control.ShouldEvaluate)
        {
            _control.ShouldEvaluate = false;
            var metrics = Evaluate();
            DetermineBestMetric(metrics);
        }
        if (_control.ShouldSave)
        {
            SaveCheckpoint();
            _control.ShouldSave = false;
        }
    }

    /// <summary>HF's <c>Trainer.log</c>: adds the epoch, appends to log_history with the step, tells the listeners.</summary>
    private void Log(Dictionary<string, double> logs)
    {
        if (State.Epoch is double epoch) logs["epoch"] = epoch;
        var entry = new LogEntry(State.GlobalStep, logs);
        State.LogHistory.Add(entry);
        _control.ShouldLog = false;
        _tensorBoard?.Log(entry);
        Logged?.Invoke(this, new TrainerLogEventArgs(entry));
    }

    private void StoreFlos()
    {
        State.TotalFlos += _currentFlos;
        _currentFlos = 0;
    }

    /// <summary>HF's <c>PreTrainedModel.floating_point_ops</c>: 6 × input tokens × non-embedding parameters.</summary>
    private double FloatingPointOps(Batch batch) => 6.0 * batch.InputIds.numel() * NonEmbeddingParameters();

    private long? _nonEmbeddingParameters;

    private long NonEmbeddingParameters()
    {
        if (_nonEmbeddingParameters is long known) return known;
        var embeddingWeights = _model.named_modules()
            .Where(m => m.module is Embedding && m.name.Length > 0)
            .Select(m => m.name + ".weight")
            .ToHashSet(StringComparer.Ordinal);
        long count = _model.named_parameters().Where(p => !embeddingWeights.Contains(p.name)).Sum(p => p.parameter.numel());
        _nonEmbeddingParameters = count;
        return count;
    }

    // ---- best model and early stopping ---------------------------------------------------------------------

    private string? MetricKey() => _args.EffectiveMetricForBestModel is string metric
        ? (metric.StartsWith("eval_", StringComparison.Ordinal) ? metric : "eval_" + metric)
        : null;

    private double MetricValue(IReadOnlyDictionary<string, double> metrics, string key) =>
        metrics.TryGetValue(key, out double value) ? value
        : throw new LmException(ErrorCodes.InvalidArgument,
            $"metric_for_best_model '{_args.EffectiveMetricForBestModel}' is not among the evaluation metrics ({string.Join(", ", metrics.Keys)})");

    private bool IsBetter(double value, double best) => _args.EffectiveGreaterIsBetter ? value > best : value < best;

    /// <summary>HF's <c>_determine_best_metric</c>.</summary>
    private void DetermineBestMetric(IReadOnlyDictionary<string, double> metrics)
    {
        if (MetricKey() is not string key) return;
        double value = MetricValue(metrics, key);
        State.BestMetric ??= _args.EffectiveGreaterIsBetter ? double.NegativeInfinity : double.PositiveInfinity;
        if (!IsBetter(value, State.BestMetric.Value)) return;
        State.BestMetric = value;
        if (_args.SaveStrategy is IntervalStrategy.Steps or IntervalStrategy.Epoch) State.BestGlobalStep = State.GlobalStep;
    }

    /// <summary>HF's <c>EarlyStoppingCallback.on_evaluate</c> (runs before the best metric is updated).</summary>
    private void CheckEarlyStopping(IReadOnlyDictionary<string, double> metrics)
    {
        if (_args.EarlyStoppingPatience is not int patience || MetricKey() is not string key) return;
        if (!metrics.TryGetValue(key, out double value))
        {
            RaiseWarning($"early stopping needs {key}, which the evaluation did not report; early stopping is off");
            return;
        }
        if (State.BestMetric is not double best || (IsBetter(value, best) && Math.Abs(value - best) > _args.EarlyStoppingThreshold))
            _earlyStoppingCounter = 0;
        else
            _earlyStoppingCounter++;
        if (_earlyStoppingCounter >= patience) _control.ShouldTrainingStop = true;
    }

    private void RaiseWarning(string message) => Warning?.Invoke(this, new TrainerWarningEventArgs(message));

    private static string Indented(JsonObject json) => json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";

    /// <summary>HF's <c>TrainerControl</c> flags.</summary>
    private sealed class Control
    {
        public bool ShouldTrainingStop;
        public bool ShouldEpochStop;
        public bool ShouldSave;
        public bool ShouldEvaluate;
        public bool ShouldLog;

        public void NewStep()
        {
            ShouldSave = false;
            ShouldEvaluate = false;
            ShouldLog = false;
        }
    }
}
