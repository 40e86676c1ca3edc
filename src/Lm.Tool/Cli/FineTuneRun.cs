using System.Globalization;
using Lm.Runtime.Data;
using Lm.Runtime.Data.Chat;
using Lm.Runtime.Errors;
using Lm.Runtime.Evaluation;
using Lm.Runtime.Hub;
using Lm.Runtime.Jobs;
using Lm.Runtime.Models;
using Lm.Runtime.Native;
using Lm.Runtime.Training;
using Lm.Tool.Progress;
using static TorchSharp.torch;

namespace Lm.Tool.Cli;

/// <summary>
/// What train, evaluate and quickstart share, in run_clm.py / run_mlm.py's order: resolve the model, check the
/// block size against it, tokenize and group the data (token cache), build the model, and wire the trainer's events
/// to the progress display.
/// </summary>
internal sealed class FineTuneRun : IDisposable
{
    private FineTuneRun(FineTuneJob job, ModelSource source, LanguageModel model, PreparedData? data, IDataCollator? trainCollator, IDataCollator? evalCollator,
        SupervisedSplits? supervised = null)
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
    }

    private readonly IDataCollator?[] _collators;
    private readonly string? _chatTemplate;

    public FineTuneJob Job { get; }

    public ModelSource Source { get; }

    public LanguageModel Model { get; }

    /// <summary>The text pipeline's blocks; null for chat and instruction data.</summary>
    public PreparedData? Data { get; }

    public IBatchSource? TrainBatches { get; }

    public IBatchSource? EvalBatches { get; }

    public Device Device => Model.parameters().First().device;

    /// <summary>Resolves, checks and prepares everything a run needs; <paramref name="train"/> / <paramref name="eval"/> pick the splits.</summary>
    public static async Task<FineTuneRun> OpenAsync(FineTuneJob job, bool train, bool eval, CliOutput output, ProgressReporter progress,
        CancellationToken cancellation)
    {
        var source = await ModelSource.ResolveAsync(job.Model, output, cancellation);
        var objective = source.Objective(job.Model) == "clm" ? DataObjective.Clm : DataObjective.Mlm;
        CheckBlockSize(job.Data, source.Config, objective);
        // Before tokenizing: a model that cannot fit is refused in a second, not after the data is prepared.
        LanguageModel.EnsureParametersFit(source.Config, LanguageModel.AvailableMemoryBytes(), copies: train ? 4 : 1);
        cancellation.ThrowIfCancellationRequested();

        await DatasetLocator.EnsureCachedAsync(job.Data, HubSettings.FromEnvironment(job.Model.CacheDir), output.Info, cancellation);
        var encoder = new LmTokenizerTextEncoder(source.Tokenizer);
        // Chat and instruction rows take TRL's SFT preparation (src/Lm.Runtime/Data/Chat); text keeps run_clm.py's blocks.
        if (objective == DataObjective.Clm && SupervisedData.DetectFormat(job.Data) is { } format)
        {
            progress.Begin("tokenize", 0);
            var supervised = SupervisedData.Prepare(job.Data, format, source.Tokenizer, source.Config.MaxPositions, train, eval, progress.Line);
            progress.End("tokenize");
            TorchRuntime.EnsureLoaded();
            var chatModel = source.CreateModel(job.Model, job.Training.Seed);
            output.Info($"model: {chatModel.ArchitectureName}, {chatModel.ParameterCount():N0} parameters, {source.Objective(job.Model)}, on {chatModel.parameters().First().device}");
            return new FineTuneRun(job, source, chatModel, null, null, null, supervised);
        }
        progress.Begin("tokenize", 0);
        var data = DataPipeline.Prepare(job.Data, encoder, objective, train, eval, source.Config.MaxPositions,
            hubCacheDir: job.Model.CacheDir, log: progress.Line);
        progress.End("tokenize");
        try
        {
            TorchRuntime.EnsureLoaded();
            var model = source.CreateModel(job.Model, job.Training.Seed);
            long seed = job.Training.EffectiveDataSeed;
            var trainCollator = data.Train is null ? null : DataPipeline.CreateCollator(job.Data, objective, encoder, data.Options, seed);
            var evalCollator = data.Validation is null ? null : DataPipeline.CreateCollator(job.Data, objective, encoder, data.Options, seed);
            output.Info($"model: {model.ArchitectureName}, {model.ParameterCount():N0} parameters, {source.Objective(job.Model)}, on {model.parameters().First().device}");
            return new FineTuneRun(job, source, model, data, trainCollator, evalCollator);
        }
        catch
        {
            data.Dispose();
            throw;
        }
    }

    /// <summary>A trainer over this run's data whose events drive <paramref name="progress"/>.</summary>
    public Trainer CreateTrainer(ProgressReporter progress, CliOutput output)
    {
        var trainer = new Trainer(Model, Job.Training, TrainBatches, EvalBatches, new TrainerOptions
        {
            Device = Device,
            // save_pretrained's files, generation_config.json included for causal LMs.
            SaveModel = PretrainedModel.Save,
            SaveTokenizer = folder => Source.Tokenizer.Save(folder, _chatTemplate),
        });
        double? learningRate = null;
        trainer.TrainBegin += (_, e) =>
        {
            progress.Begin("train", e.MaxSteps);
            if (e.StartStep > 0) progress.Update("train", e.StartStep);
            output.Info($"training: {e.NumExamples:N0} examples, {e.NumTrainEpochs} epochs, {e.MaxSteps:N0} optimizer steps" +
                (e.StartStep > 0 ? $", resuming at step {e.StartStep}" : ""));
        };
        trainer.StepEnd += (_, e) =>
        {
            string metrics = (e.Loss is float loss ? $"loss {loss.ToString("0.000", CultureInfo.InvariantCulture)}" : "") + (learningRate is double lr ? $"  lr {lr.ToString("0.0e+0", CultureInfo.InvariantCulture)}" : "");
            progress.Update("train", e.GlobalStep, metrics.Trim());
        };
        trainer.Logged += (_, e) =>
        {
            if (e.Entry.TryGetValue("learning_rate", out double lr)) learningRate = lr;
            progress.Line($"step {e.Entry.Step}: " + string.Join(", ", e.Entry.Values.Select(p => $"{p.Key} {Format(p.Value)}")));
        };
        trainer.Saved += (_, e) => output.Detail($"checkpoint {e.Folder}");
        trainer.Warning += (_, e) => output.Warning(e.Message);
        return trainer;
    }

    /// <summary>eval_loss and perplexity of the model as it is now, without writing files (quick start's "before").</summary>
    public Dictionary<string, double> EvaluateNow(ProgressReporter progress)
    {
        var data = EvalBatches ?? throw new LmException(ErrorCodes.NoTrainingData, "evaluation needs validation data");
        progress.Begin("eval", (data.Count + Job.Training.PerDeviceEvalBatchSize - 1) / Job.Training.PerDeviceEvalBatchSize);
        var metrics = new Evaluator(Model, data, Job.Training.PerDeviceEvalBatchSize, Device, Job.Training.LabelSmoothingFactor).Evaluate();
        progress.End("eval");
        metrics["eval_samples"] = data.Count;
        metrics["perplexity"] = Evaluator.Perplexity(metrics["eval_loss"]);
        return metrics;
    }

    /// <summary>run_clm.py's final evaluation through the trainer (eval_results.json, all_results.json).</summary>
    public Dictionary<string, double> RunEvaluation(Trainer trainer, ProgressReporter progress)
    {
        progress.Begin("eval", (trainer.EvalSampleCount + Job.Training.PerDeviceEvalBatchSize - 1) / Job.Training.PerDeviceEvalBatchSize);
        var metrics = trainer.RunEvaluation();
        progress.End("eval");
        progress.Line($"eval: loss {Format(metrics["eval_loss"])}, perplexity {Format(metrics["perplexity"])}");
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

    /// <summary>Copies metrics into a JSON result; infinities and NaN (a diverged perplexity) become null.</summary>
    public static void AddMetrics(System.Text.Json.Nodes.JsonObject json, IReadOnlyDictionary<string, double> metrics, string prefix = "")
    {
        foreach (var (key, value) in metrics.OrderBy(p => p.Key, StringComparer.Ordinal))
            json[prefix + key] = double.IsFinite(value) ? value : null;
    }

    /// <summary>Numbers as HF logs them: short, invariant culture.</summary>
    public static string Format(double value) => value.ToString(Math.Abs(value) is >= 1e-3 and < 1e6 or 0 ? "0.####" : "0.###e+0", CultureInfo.InvariantCulture);

    public void Dispose()
    {
        foreach (var collator in _collators) (collator as IDisposable)?.Dispose();
        Model.Dispose();
        Data?.Dispose();
    }
}
