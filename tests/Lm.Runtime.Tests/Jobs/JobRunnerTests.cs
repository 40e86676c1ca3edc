using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lm.Runtime.Data;
using Lm.Runtime.Jobs;
using Lm.Runtime.Models;
using Lm.Runtime.Tests.Data;
using Lm.Runtime.Tokenization;
using Lm.Runtime.Training;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Jobs;

/// <summary>
/// A job run in-process, as app code runs <c>MyJob.CreateJob().Run(progress, token)</c>: a one-layer GPT-2 with a
/// 257-token byte vocabulary (token id = byte value, so the expected ids need no tokenizer), a few steps.
/// </summary>
public sealed class JobRunnerTests
{
    private const int BlockSize = 16, EvalBlocks = 4;

    private static readonly string TrainText = string.Concat(Enumerable.Range(0, 40).Select(i =>
        $"Line {i} of the training text says that the game was played in the year {1900 + i}.\n"));

    private static readonly string ValidationText = string.Concat(Enumerable.Range(0, 12).Select(i =>
        $"The validation line {i} tells of a season that ended in {2000 + i} with a win.\n"));

    /// <summary>A byte-level BPE folder without merges: every byte is its own token, with id = the byte.</summary>
    private static string ByteTokenizer(ScratchFolder folder)
    {
        var vocab = new JsonObject();
        for (int b = 0; b < 256; b++) vocab[ByteLevelAlphabet.ToChar((byte)b).ToString()] = b;
        vocab["<|endoftext|>"] = 256;
        folder.File("tokenizer/vocab.json", vocab.ToJsonString());
        folder.File("tokenizer/merges.txt", "#version: 0.2\n");
        folder.File("tokenizer/tokenizer_config.json", """{"tokenizer_class": "GPT2Tokenizer"}""");
        return Path.Combine(folder.Path, "tokenizer");
    }

    /// <summary>The job as the generator's <c>CreateJob()</c> builds one: three argument objects.</summary>
    private static FineTuneJob TinyJob(ScratchFolder folder) => new()
    {
        Model = new ModelArguments
        {
            ConfigName = folder.File("config.json", """{"model_type": "gpt2", "vocab_size": 257, "n_positions": 64, "n_embd": 16, "n_layer": 1, "n_head": 2}"""),
            TokenizerName = ByteTokenizer(folder),
        },
        Data = new DataArguments
        {
            TrainFile = folder.File("train.txt", TrainText),
            ValidationFile = folder.File("validation.txt", ValidationText),
            BlockSize = BlockSize,
            MaxTrainSamples = 16,
            MaxEvalSamples = EvalBlocks,
            // Tokenized on every run (the token cache is the user's), so the tokenizing reports are always there.
            OverwriteCache = true,
        },
        Training = new TrainingArguments
        {
            OutputDir = Path.Combine(folder.Path, "out"),
            DoEval = true,
            MaxSteps = 3,
            PerDeviceTrainBatchSize = 2,
            PerDeviceEvalBatchSize = EvalBlocks,
            LearningRate = 1e-3,
            LoggingSteps = 1,
            SaveStrategy = IntervalStrategy.No,
            ReportTo = "none",
        },
    };

    /// <summary>Reports kept in order, at once, on the thread that runs the job.</summary>
    private sealed class Recorder(Action<JobProgress>? onReport = null) : IProgress<JobProgress>
    {
        public List<JobProgress> Reports { get; } = new();

        public void Report(JobProgress value)
        {
            Reports.Add(value);
            onReport?.Invoke(value);
        }
    }

    private static string[] Files(string folder) =>
        Directory.EnumerateFileSystemEntries(folder, "*", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(folder, p).Replace('\\', '/')).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void A_job_runs_in_process_and_reports_what_it_writes()
    {
        using var folder = new ScratchFolder();
        var job = TinyJob(folder);
        var recorder = new Recorder();

        var result = job.Run(recorder, CancellationToken.None);

        string output = Path.Combine(folder.Path, "out");
        Assert.Equal(output, result.OutputDirectory);
        Assert.Equal("clm", result.Objective);
        Assert.Equal(3, result.GlobalStep);
        Assert.Equal(
            [
                "all_results.json", "config.json", "eval_results.json", "generation_config.json", "merges.txt", "model.safetensors",
                "report.html", "special_tokens_map.json", "tokenizer_config.json", "train_results.json",
                "trainer_state.json", "training_args.json", "vocab.json",
            ],
            Files(output));

        // The stages in order, each step of training once.
        var stages = recorder.Reports.Where(r => r.Stage is not null || r.Kind == JobProgressKind.Evaluated)
            .Select(r => r.Kind == JobProgressKind.StageAdvanced ? $"{r.Kind} {r.Stage} {r.Done}" : $"{r.Kind} {r.Stage}").ToArray();
        Assert.Equal(
            [
                "StageStarted Tokenize", "StageAdvanced Tokenize 40", "StageAdvanced Tokenize 12", "StageFinished Tokenize",
                "StageStarted Train", "StageAdvanced Train 1", "StageAdvanced Train 2", "StageAdvanced Train 3", "StageFinished Train",
                "StageStarted Eval", "StageFinished Eval", "Evaluated ",
            ],
            stages);
        Assert.Equal(["train", "validation"], recorder.Reports.Where(r => r.Kind == JobProgressKind.StageAdvanced && r.Stage == JobStage.Tokenize).Select(r => r.Message));
        Assert.Equal(1, recorder.Reports.Single(r => r.Kind == JobProgressKind.StageStarted && r.Stage == JobStage.Eval).Total);
        Assert.Equal(3, recorder.Reports.Single(r => r.Kind == JobProgressKind.StageStarted && r.Stage == JobStage.Train).Total);
        // A log entry per logging step (logging_steps 1), then the run's summary, then the final evaluation.
        var logs = recorder.Reports.Where(r => r.Kind == JobProgressKind.Log && r.Step is not null).ToList();
        Assert.Equal([1, 2, 3, 3, 3], logs.Select(r => r.Step!.Value));
        Assert.Equal(["loss", "loss", "loss", "train_loss", "eval_loss"],
            logs.Select(r => new[] { "loss", "train_loss", "eval_loss" }.Single(r.Metrics!.ContainsKey)));
        // 16 training blocks in batches of 2: 8 steps to an epoch.
        Assert.StartsWith("step 1: epoch 0.125, grad_norm ", logs[0].Message, StringComparison.Ordinal);

        // The evaluation reported is the one written, and the result's metrics are all_results.json's.
        var evaluated = recorder.Reports.Single(r => r.Kind == JobProgressKind.Evaluated).Metrics!;
        using var written = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "all_results.json")));
        double writtenLoss = written.RootElement.GetProperty("eval_loss").GetDouble();
        Assert.Equal(writtenLoss, evaluated["eval_loss"]);
        Assert.Equal(writtenLoss, result.Metrics["eval_loss"]);
        Assert.Equal(Math.Exp(writtenLoss), written.RootElement.GetProperty("perplexity").GetDouble(), 12);
        Assert.Equal(EvalBlocks, written.RootElement.GetProperty("eval_samples").GetDouble());
        Assert.Equal(written.RootElement.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal), result.Metrics.Keys.Order(StringComparer.Ordinal));

        // And it is the saved model's loss on the first four 16-byte blocks of the validation text, computed here
        // with a plain loop: the mean over every position of -log p(next byte).
        Assert.Equal(CausalLoss(output, Encoding.ASCII.GetBytes(ValidationText)[..(EvalBlocks * BlockSize)]), writtenLoss, 4);
    }

    private static double CausalLoss(string modelFolder, byte[] ids)
    {
        using var model = PretrainedModel.Load(modelFolder, "cpu", "float32");
        model.eval();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var input = tensor(ids.Select(b => (long)b).ToArray(), new long[] { EvalBlocks, BlockSize });
        var logits = model.Forward(input, ones_like(input)).Logits.to(ScalarType.Float64);
        double total = 0;
        int count = 0;
        for (int block = 0; block < EvalBlocks; block++)
        {
            for (int t = 0; t + 1 < BlockSize; t++)
            {
                double[] row = logits[block, t].data<double>().ToArray();
                double max = row.Max();
                double logSum = max + Math.Log(row.Sum(v => Math.Exp(v - max)));
                total += logSum - row[ids[block * BlockSize + t + 1]];
                count++;
            }
        }
        return total / count;
    }

    [Fact]
    public void Cancelling_while_tokenizing_stops_the_job_and_leaves_the_output_folder_empty()
    {
        using var folder = new ScratchFolder();
        using var cancel = new CancellationTokenSource();
        var recorder = new Recorder(r =>
        {
            if (r.Kind == JobProgressKind.StageStarted && r.Stage == JobStage.Tokenize) cancel.Cancel();
        });

        Assert.ThrowsAny<OperationCanceledException>(() => TinyJob(folder).Run(recorder, cancel.Token));

        Assert.Empty(Files(Path.Combine(folder.Path, "out")));
        Assert.Equal(JobProgressKind.StageStarted, recorder.Reports[^1].Kind);
    }

    [Fact]
    public void Cancelling_the_final_evaluation_writes_no_evaluation_results()
    {
        using var folder = new ScratchFolder();
        using var cancel = new CancellationTokenSource();
        var recorder = new Recorder(r =>
        {
            if (r.Kind == JobProgressKind.StageStarted && r.Stage == JobStage.Eval) cancel.Cancel();
        });

        Assert.ThrowsAny<OperationCanceledException>(() => TinyJob(folder).Run(recorder, cancel.Token));

        string output = Path.Combine(folder.Path, "out");
        // Training finished and saved; the evaluation stopped before its first batch and left no results file.
        Assert.DoesNotContain("eval_results.json", Files(output));
        Assert.DoesNotContain("report.html", Files(output));
        using var written = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "all_results.json")));
        Assert.DoesNotContain(written.RootElement.EnumerateObject(), p => p.Name.StartsWith("eval_", StringComparison.Ordinal));
        Assert.DoesNotContain(recorder.Reports, r => r.Kind == JobProgressKind.Evaluated);
    }
}
