using System.Text.Json.Nodes;
using Lm.Runtime.Checkpoints;
using Lm.Runtime.Data;
using Lm.Runtime.Errors;
using Lm.Runtime.Evaluation;
using Lm.Runtime.Models;
using Lm.Runtime.Tests.Data;
using Lm.Runtime.Training;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Training;

[Collection(TorchRandomCollection.Name)]
public class TrainerTests
{
    [Fact]
    public void Accumulating_two_batches_of_four_equals_one_batch_of_eight()
    {
        using var dir = new ScratchFolder();
        var data = MemoryBlocks.Patterned(24, 16, TrainerFixtures.Vocab, seed: 3);
        using var big = TrainerFixtures.TinyGpt2();
        using var small = TrainerFixtures.TinyGpt2();
        var oneByEight = TrainerFixtures.Args(dir.Path, maxSteps: 4);
        oneByEight.PerDeviceTrainBatchSize = 8;
        var twoByFour = TrainerFixtures.Args(dir.Path, maxSteps: 4);
        twoByFour.GradientAccumulationSteps = 2;

        using var first = new Trainer(big, oneByEight, data);
        using var second = new Trainer(small, twoByFour, data);
        first.Train();
        second.Train();

        float[] a = TrainerFixtures.Weights(big), b = TrainerFixtures.Weights(small);
        Assert.Equal(a.Length, b.Length);
        for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) <= 1e-5, $"weight {i}: {a[i]} vs {b[i]}");
        var lossesA = first.State.LogHistory.Where(e => e.Values.ContainsKey("loss")).Select(e => e["loss"]).ToArray();
        var lossesB = second.State.LogHistory.Where(e => e.Values.ContainsKey("loss")).Select(e => e["loss"]).ToArray();
        Assert.Equal(4, lossesA.Length);
        for (int i = 0; i < 4; i++) Assert.True(Math.Abs(lossesA[i] - lossesB[i]) <= 1e-4, $"loss {i}: {lossesA[i]} vs {lossesB[i]}");
    }

    [Fact]
    public void Logs_hold_the_mean_loss_since_the_last_log_the_step_learning_rate_and_the_fractional_epoch()
    {
        using var dir = new ScratchFolder();
        var data = MemoryBlocks.Patterned(18, 16, TrainerFixtures.Vocab, seed: 5); // 5 batches of 4 (last of 2)
        using var model = TrainerFixtures.TinyGpt2();
        var args = TrainerFixtures.Args(dir.Path, maxSteps: 7);
        args.LoggingSteps = 3;
        args.WarmupSteps = 2;
        args.MaxGradNorm = 0.5;
        using var trainer = new Trainer(model, args, data);
        var stepLosses = new List<float>();
        trainer.StepEnd += (_, e) => stepLosses.Add(e.Loss!.Value);

        var output = trainer.Train();

        var logs = trainer.State.LogHistory;
        Assert.Equal(new[] { 3, 6, 7 }, logs.Select(e => e.Step));
        // HF sums the float32 step losses, then divides in double and rounds to 4 places.
        float sum3 = 0f, sum6 = 0f, sum7 = 0f;
        for (int i = 0; i < 3; i++) sum3 += stepLosses[i];
        for (int i = 3; i < 6; i++) sum6 += stepLosses[i];
        sum7 += stepLosses[6];
        Assert.Equal(SpeedMetrics.PythonRound((double)sum3 / 3, 4), logs[0]["loss"]);
        Assert.Equal(SpeedMetrics.PythonRound((double)sum6 / 3, 4), logs[1]["loss"]);
        // The learning rate logged at step k is the one step k used: base * multiplier(k - 1); linear, 2 warmup of 7.
        Assert.Equal(1e-3 * 1.0 * (7 - 2) / 5, logs[0]["learning_rate"]);
        Assert.Equal(1e-3 * (7 - 5) / 5.0, logs[1]["learning_rate"]);
        // 5 batches per epoch: step 3 ends batch 3 of epoch 0; step 6 ends batch 1 of epoch 1.
        Assert.Equal(3 / 5.0, logs[0]["epoch"]);
        Assert.Equal(1 + 1 / 5.0, logs[1]["epoch"]);
        // grad_norm is pinned against a plain-loop gradient in TrainerParityTests.
        // The summary: train_loss is the mean of all step losses; the last log window (step 7) is added at the end.
        var summary = logs[^1];
        Assert.Equal(((double)sum3 + sum6 + sum7) / 7, summary["train_loss"], 12);
        Assert.Equal(output.TrainingLoss, summary["train_loss"]);
        Assert.True(summary.Values.ContainsKey("train_runtime"));
        // HF's floating_point_ops: 6 × input tokens × num_parameters(exclude_embeddings=True). The tokens: epoch 0's
        // five batches (4+4+4+4+2 blocks) and two of epoch 1 (4+4), 16 tokens each. The parameters without wte/wpe
        // (lm_head is wte), from the config: per layer ln_1 2E, c_attn 3E²+3E, c_proj E²+E, ln_2 2E, c_fc 4E²+4E,
        // mlp.c_proj 4E²+E = 12E²+13E; two layers and ln_f (2E) with E = 32.
        const long e = 32, nonEmbedding = 2 * (12 * e * e + 13 * e) + 2 * e;
        Assert.Equal(25_472, nonEmbedding);
        Assert.Equal(6.0 * (26 * 16) * nonEmbedding, summary["total_flos"]);
    }

    [Theory]
    [InlineData(IntervalStrategy.Steps, new[] { 3, 6, 9 })]
    [InlineData(IntervalStrategy.Epoch, new[] { 5 })] // checkpoint-5 precedes epoch 0's end log, which the resumed run must still write
    public void Resuming_from_a_checkpoint_continues_bit_for_bit(string loggingStrategy, int[] loggedSteps)
    {
        using var straightDir = new ScratchFolder();
        using var resumedDir = new ScratchFolder();
        var data = MemoryBlocks.Patterned(20, 16, TrainerFixtures.Vocab, seed: 11);
        TrainingArguments Args(string dir)
        {
            var args = TrainerFixtures.Args(dir, maxSteps: 10);
            args.LoggingStrategy = loggingStrategy;
            args.LoggingSteps = 3; // a log window (4..6) spans the checkpoint at step 5
            args.SaveStrategy = IntervalStrategy.Steps;
            args.SaveSteps = 5;
            args.WarmupSteps = 2;
            args.WeightDecay = 0.01;
            return args;
        }

        using var straightModel = TrainerFixtures.TinyGpt2(dropout: 0.1);
        using (var straight = new Trainer(straightModel, Args(straightDir.Path), data))
            straight.Train();

        using var interruptedModel = TrainerFixtures.TinyGpt2(dropout: 0.1);
        using var cancel = new CancellationTokenSource();
        using (var interrupted = new Trainer(interruptedModel, Args(resumedDir.Path), data))
        {
            interrupted.StepEnd += (_, e) => { if (e.GlobalStep == 5) cancel.Cancel(); };
            var stopped = Assert.Throws<LmException>(() => interrupted.Train(cancel.Token));
            Assert.Equal(ErrorCodes.TrainingCancelled, stopped.Code);
            Assert.Contains("checkpoint-5", stopped.Message);
        }

        // A different initialisation proves the weights come from the checkpoint.
        using var resumedModel = TrainerFixtures.TinyGpt2(seed: 99, dropout: 0.1);
        var resumeArgs = Args(resumedDir.Path);
        resumeArgs.ResumeFromCheckpoint = "last";
        using var resumed = new Trainer(resumedModel, resumeArgs, data);
        resumed.Train();

        Assert.Equal(TrainerFixtures.Weights(straightModel), TrainerFixtures.Weights(resumedModel));
        var expected = JsonNode.Parse(File.ReadAllText(Path.Combine(straightDir.Path, "checkpoint-10", "trainer_state.json")))!;
        var actual = JsonNode.Parse(File.ReadAllText(Path.Combine(resumedDir.Path, "checkpoint-10", "trainer_state.json")))!;
        Assert.Equal(expected.ToJsonString(), actual.ToJsonString());
        Assert.Equal(loggedSteps, expected["log_history"]!.AsArray().Select(e => e!["step"]!.GetValue<int>()));
    }

    [Fact]
    public void Resuming_masked_lm_training_restores_the_masking_generator()
    {
        using var scratch = new ScratchFolder();
        var encoder = new CharEncoder(addSpecialTokens: true);
        using var data = DataPipeline.Prepare(new DataArguments
        {
            TrainFile = TestData.Corpus("wikitext-2-raw/sample/validation.txt"), BlockSize = 32, MaxTrainSamples = 48,
        }, encoder, DataObjective.Mlm, validation: false, cacheRoot: Path.Combine(scratch.Path, "cache"));
        LanguageModel Roberta(long seed) => LanguageModel.Create(new RobertaConfig
        {
            VocabSize = 1000, HiddenWidth = 32, NumHiddenLayers = 2, NumAttentionHeads = 2, IntermediateSize = 64,
            MaxPositionEmbeddings = 40, PadTokenId = CharEncoder.Pad,
        }, seed);
        TrainingArguments Args(string dir)
        {
            var args = TrainerFixtures.Args(dir, maxSteps: 6);
            args.SaveStrategy = IntervalStrategy.Steps;
            args.SaveSteps = 3;
            args.LoggingSteps = 2;
            return args;
        }
        DatasetBatches Batches() => new(data.Train!, new MaskingCollator(encoder, new MaskingOptions { Seed = 42 }));

        using var straightModel = Roberta(1);
        using (var straight = new Trainer(straightModel, Args(Path.Combine(scratch.Path, "a")), Batches()))
            straight.Train();
        using var cancel = new CancellationTokenSource();
        using (var interruptedModel = Roberta(1))
        using (var interrupted = new Trainer(interruptedModel, Args(Path.Combine(scratch.Path, "b")), Batches()))
        {
            interrupted.StepEnd += (_, e) => { if (e.GlobalStep == 3) cancel.Cancel(); };
            Assert.Throws<LmException>(() => interrupted.Train(cancel.Token));
        }
        using var resumedModel = Roberta(2);
        var resumeArgs = Args(Path.Combine(scratch.Path, "b"));
        resumeArgs.ResumeFromCheckpoint = Path.Combine(scratch.Path, "b", "checkpoint-3");
        using (var resumed = new Trainer(resumedModel, resumeArgs, Batches()))
            resumed.Train();

        Assert.Equal(TrainerFixtures.Weights(straightModel), TrainerFixtures.Weights(resumedModel));
    }

    [Fact]
    public void Bf16_training_keeps_fp32_masters_and_saves_fp32_weights()
    {
        using var dir = new ScratchFolder();
        var data = MemoryBlocks.Patterned(16, 16, TrainerFixtures.Vocab, seed: 6);
        using var fp32Model = TrainerFixtures.TinyGpt2();
        using var bf16Model = TrainerFixtures.TinyGpt2();
        var fp32Args = TrainerFixtures.Args(Path.Combine(dir.Path, "fp32"), maxSteps: 12);
        var bf16Args = TrainerFixtures.Args(Path.Combine(dir.Path, "bf16"), maxSteps: 12);
        bf16Args.Bf16 = true;
        bf16Args.SaveStrategy = IntervalStrategy.Steps;
        bf16Args.SaveSteps = 6;
        using var fp32 = new Trainer(fp32Model, fp32Args, data);
        using var bf16 = new Trainer(bf16Model, bf16Args, data);

        double fp32Loss = fp32.Train().TrainingLoss;
        double bf16Loss = bf16.Train().TrainingLoss;

        Assert.True(Math.Abs(fp32Loss - bf16Loss) < 0.05 * fp32Loss, $"fp32 {fp32Loss}, bf16 {bf16Loss}");
        Assert.All(bf16Model.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
        var saved = SafeTensorsReader.Read(Path.Combine(dir.Path, "bf16", "checkpoint-6", "model.safetensors"));
        Assert.All(saved.Values, t => Assert.Equal(ScalarType.Float32, t.dtype));
        foreach (var t in saved.Values) t.Dispose();
        float[] a = TrainerFixtures.Weights(fp32Model), b = TrainerFixtures.Weights(bf16Model);
        Assert.True(a.Zip(b).Max(p => Math.Abs(p.First - p.Second)) < 0.05);
    }

    [Fact]
    public void A_checkpoint_without_its_marker_is_skipped_and_reported_on_resume()
    {
        using var dir = new ScratchFolder();
        var data = MemoryBlocks.Patterned(12, 16, TrainerFixtures.Vocab, seed: 2);
        var args = TrainerFixtures.Args(dir.Path, maxSteps: 3);
        args.SaveStrategy = IntervalStrategy.Steps;
        args.SaveSteps = 2;
        using (var model = TrainerFixtures.TinyGpt2())
        using (var trainer = new Trainer(model, args, data))
            trainer.Train();
        Assert.True(CheckpointManager.IsComplete(Path.Combine(dir.Path, "checkpoint-2")));
        // What a save killed part-way leaves: its temp folder, and (worst case, copied by hand) a folder without marker.
        Directory.Delete(Path.Combine(dir.Path, "checkpoint-3"), recursive: true);
        Directory.CreateDirectory(Path.Combine(dir.Path, ".tmp-checkpoint-3-12345"));
        File.WriteAllText(Path.Combine(dir.Path, ".tmp-checkpoint-3-12345", "model.safetensors"), "partial");
        Directory.CreateDirectory(Path.Combine(dir.Path, "checkpoint-3"));
        File.WriteAllText(Path.Combine(dir.Path, "checkpoint-3", "model.safetensors"), "partial");

        var resumeArgs = TrainerFixtures.Args(dir.Path, maxSteps: 3);
        resumeArgs.ResumeFromCheckpoint = "last";
        using var resumedModel = TrainerFixtures.TinyGpt2();
        using var resumed = new Trainer(resumedModel, resumeArgs, data);
        var warnings = new List<string>();
        resumed.Warning += (_, e) => warnings.Add(e.Message);
        int? startStep = null;
        resumed.TrainBegin += (_, e) => startStep = e.StartStep;
        resumed.Train();

        Assert.Equal(2, startStep);
        Assert.Contains(warnings, w => w.Contains("checkpoint-3") && w.Contains(CheckpointManager.CompletionMarker));
        Assert.Equal(3, resumed.State.GlobalStep);
    }

    private const string KillTestDirVariable = "LM_TRAINER_KILL_TEST_DIR";

    /// <summary>
    /// Saves a checkpoint every step, each with a tokenizer file. Run as a child process by the SIGKILL test (the
    /// variable names its output folder), it trains long and makes every save take 2 s, so it can be killed mid-save.
    /// </summary>
    [Fact]
    public void Every_step_can_be_checkpointed_with_the_tokenizer_files()
    {
        string? childDir = Environment.GetEnvironmentVariable(KillTestDirVariable);
        using var scratch = new ScratchFolder();
        string dir = childDir ?? scratch.Path;
        var args = TrainerFixtures.Args(dir, maxSteps: childDir is null ? 3 : 10_000);
        args.SaveStrategy = IntervalStrategy.Steps;
        args.SaveSteps = 1;
        using var model = TrainerFixtures.TinyGpt2();
        using var trainer = new Trainer(model, args, MemoryBlocks.Patterned(16, 16, TrainerFixtures.Vocab, seed: 13), options: new TrainerOptions
        {
            SaveTokenizer = folder =>
            {
                File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), "{}");
                if (childDir is not null) Thread.Sleep(2000);
            },
        });

        trainer.Train();

        foreach (int step in new[] { 1, 2, 3 })
        {
            string folder = Path.Combine(dir, $"checkpoint-{step}");
            Assert.True(CheckpointManager.IsComplete(folder));
            Assert.True(File.Exists(Path.Combine(folder, "tokenizer_config.json")));
        }
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void A_process_killed_mid_save_leaves_no_partial_checkpoint_resumes_from_the_previous_one_and_leaves_nothing_after_the_next_save()
    {
        using var scratch = new ScratchFolder();
        string dir = Path.Combine(scratch.Path, "out");
        var start = new System.Diagnostics.ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string arg in new[] { "test", typeof(TrainerTests).Assembly.Location, "--filter",
                     $"FullyQualifiedName~{nameof(Every_step_can_be_checkpointed_with_the_tokenizer_files)}" })
            start.ArgumentList.Add(arg);
        start.Environment[KillTestDirVariable] = dir;
        using var child = System.Diagnostics.Process.Start(start)!;
        child.OutputDataReceived += (_, _) => { };
        child.ErrorDataReceived += (_, _) => { };
        child.BeginOutputReadLine();
        child.BeginErrorReadLine();

        // Wait until one checkpoint is complete and the next one is being written, then SIGKILL the whole tree.
        var deadline = DateTime.UtcNow.AddMinutes(4);
        while (!(Directory.Exists(dir)
                 && Directory.GetDirectories(dir, "checkpoint-*").Any(CheckpointManager.IsComplete)
                 && Directory.GetDirectories(dir, ".tmp-checkpoint-*").Length > 0))
        {
            Assert.False(child.HasExited, "the training child exited before it could be killed");
            Assert.True(DateTime.UtcNow < deadline, "the training child wrote no checkpoint in time");
            Thread.Sleep(20);
        }
        child.Kill(entireProcessTree: true);
        child.WaitForExit();
        // SIGKILL is final but not instant for the grandchild that trains: a process inside a system call (an fsync on a
        // busy disk) dies when the call returns. Until it is gone its staging folder is rightly a live run's.
        foreach (string staging in Directory.GetDirectories(dir, ".tmp-checkpoint-*"))
        {
            string[] parts = Path.GetFileName(staging).Split('-');
            int pid = int.Parse(parts[^2], System.Globalization.CultureInfo.InvariantCulture);
            long startTicks = long.Parse(parts[^1], System.Globalization.CultureInfo.InvariantCulture);
            var gone = DateTime.UtcNow.AddMinutes(1);
            while (Lm.Runtime.Checkpoints.ProcessIdentity.IsAlive(pid, startTicks))
            {
                Assert.True(DateTime.UtcNow < gone, $"the killed trainer {pid} is still running a minute later");
                Thread.Sleep(20);
            }
        }

        Assert.NotEmpty(Directory.GetDirectories(dir, ".tmp-checkpoint-*"));
        var checkpoints = Directory.GetDirectories(dir, "checkpoint-*");
        Assert.All(checkpoints, folder => Assert.True(CheckpointManager.IsComplete(folder), $"{folder} is partial"));
        int last = checkpoints.Select(f => int.Parse(Path.GetFileName(f)["checkpoint-".Length..])).Max();
        // Another run saving into the same folder right now: its staging must survive this run's cleanup.
        using var other = new Lm.Runtime.Tests.Checkpoints.OtherProcess();
        string otherRun = Path.Combine(dir, $".tmp-checkpoint-{last + 50}-{other.Tag}");
        Directory.CreateDirectory(otherRun);
        // What earlier versions left when killed while staging a model beside a checkpoint.
        Directory.CreateDirectory(Path.Combine(dir, $"..tmp-checkpoint-{last + 1}-{int.MaxValue}.saving-0123456789abcdef0123456789abcdef"));

        // Resume with the child's arguments (the schedule must match) and stop after one more step.
        var args = TrainerFixtures.Args(dir, maxSteps: 10_000);
        args.SaveStrategy = IntervalStrategy.Steps;
        args.SaveSteps = 1;
        args.ResumeFromCheckpoint = "last";
        using var model = TrainerFixtures.TinyGpt2(seed: 5);
        using var resumed = new Trainer(model, args, MemoryBlocks.Patterned(16, 16, TrainerFixtures.Vocab, seed: 13));
        int? startStep = null;
        using var cancel = new CancellationTokenSource();
        resumed.TrainBegin += (_, e) => startStep = e.StartStep;
        resumed.StepEnd += (_, _) => cancel.Cancel();
        Assert.Equal(ErrorCodes.TrainingCancelled, Assert.Throws<LmException>(() => resumed.Train(cancel.Token)).Code);

        Assert.Equal(last, startStep);
        Assert.True(CheckpointManager.IsComplete(Path.Combine(dir, $"checkpoint-{last + 1}")));
        // No leftover of the killed save anywhere (temp checkpoint, staged model files, temp files), the live one kept.
        Assert.Equal([otherRun], Directory.GetFileSystemEntries(dir, ".*"));
        Assert.True(other.IsRunning);
        Assert.Equal(["out"], Directory.GetFileSystemEntries(scratch.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void A_non_finite_loss_stops_with_LM0410_and_keeps_the_last_checkpoint()
    {
        using var dir = new ScratchFolder();
        var data = MemoryBlocks.Patterned(12, 16, TrainerFixtures.Vocab, seed: 2);
        var args = TrainerFixtures.Args(dir.Path, maxSteps: 6);
        args.SaveStrategy = IntervalStrategy.Steps;
        args.SaveSteps = 2;
        using var model = TrainerFixtures.TinyGpt2();
        using var trainer = new Trainer(model, args, data);
        trainer.StepEnd += (_, e) =>
        {
            if (e.GlobalStep != 3) return;
            using var noGrad = no_grad();
            model.named_parameters().First().parameter.fill_(float.NaN);
        };

        var error = Assert.Throws<LmException>(() => trainer.Train());

        Assert.Equal(ErrorCodes.TrainingDiverged, error.Code);
        Assert.Contains("checkpoint-2", error.Message);
        Assert.True(CheckpointManager.IsComplete(Path.Combine(dir.Path, "checkpoint-2")));
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "checkpoint-4")));
    }

    [Fact]
    public void Output_files_have_Hugging_Face_keys()
    {
        using var dir = new ScratchFolder();
        var data = MemoryBlocks.Patterned(12, 16, TrainerFixtures.Vocab, seed: 4);
        var eval = MemoryBlocks.Patterned(6, 16, TrainerFixtures.Vocab, seed: 8);
        var args = TrainerFixtures.Args(dir.Path, maxSteps: 4);
        args.SaveStrategy = IntervalStrategy.Steps;
        args.SaveSteps = 2;
        args.SaveTotalLimit = 1;
        args.EvalStrategy = IntervalStrategy.Steps;
        args.EvalSteps = 2;
        args.ReportTo = "tensorboard";
        args.LoggingDir = Path.Combine(dir.Path, "runs", "test");
        using var model = TrainerFixtures.TinyGpt2();
        using var trainer = new Trainer(model, args, data, eval);

        trainer.RunTraining();
        var evalMetrics = trainer.RunEvaluation();
        trainer.WriteReport(evalMetrics);

        var state = JsonNode.Parse(File.ReadAllText(Path.Combine(dir.Path, "trainer_state.json")))!.AsObject();
        Assert.Equal(new[] { "best_global_step", "best_metric", "best_model_checkpoint", "epoch", "eval_steps", "global_step",
            "is_hyper_param_search", "is_local_process_zero", "is_world_process_zero", "log_history", "logging_steps", "max_steps",
            "num_input_tokens_seen", "num_train_epochs", "save_steps", "stateful_callbacks", "total_flos", "train_batch_size",
            "trial_name", "trial_params" }, state.Select(p => p.Key));
        Assert.Equal(new[] { "epoch", "grad_norm", "learning_rate", "loss", "step" }, state["log_history"]![0]!.AsObject().Select(p => p.Key));
        Assert.Equal(new[] { "epoch", "eval_accuracy", "eval_loss", "eval_runtime", "eval_samples_per_second", "eval_steps_per_second", "step" },
            state["log_history"]![2]!.AsObject().Select(p => p.Key));
        Assert.Equal(new[] { "epoch", "step", "total_flos", "train_loss", "train_runtime", "train_samples_per_second", "train_steps_per_second" },
            state["log_history"]!.AsArray().Last()!.AsObject().Select(p => p.Key));
        var train = JsonNode.Parse(File.ReadAllText(Path.Combine(dir.Path, "train_results.json")))!.AsObject();
        Assert.Equal(new[] { "epoch", "total_flos", "train_loss", "train_runtime", "train_samples", "train_samples_per_second", "train_steps_per_second" },
            train.Select(p => p.Key));
        var evalResults = JsonNode.Parse(File.ReadAllText(Path.Combine(dir.Path, "eval_results.json")))!.AsObject();
        Assert.Equal(new[] { "epoch", "eval_accuracy", "eval_loss", "eval_runtime", "eval_samples", "eval_samples_per_second", "eval_steps_per_second", "perplexity" },
            evalResults.Select(p => p.Key));
        Assert.Equal(6, evalResults["eval_samples"]!.GetValue<int>());
        Assert.Equal(Math.Exp(evalResults["eval_loss"]!.GetValue<double>()), evalResults["perplexity"]!.GetValue<double>(), 9);
        var all = JsonNode.Parse(File.ReadAllText(Path.Combine(dir.Path, "all_results.json")))!.AsObject();
        Assert.Equal(train.Select(p => p.Key).Union(evalResults.Select(p => p.Key)).OrderBy(k => k, StringComparer.Ordinal), all.Select(p => p.Key));
        Assert.StartsWith("{\n    \"epoch\": 1.3333333333333333,\n    \"total_flos\": ", File.ReadAllText(Path.Combine(dir.Path, "train_results.json")));
        Assert.True(File.Exists(Path.Combine(dir.Path, "model.safetensors")));
        Assert.True(File.Exists(Path.Combine(dir.Path, "training_args.json")));
        Assert.Single(Directory.GetDirectories(dir.Path, "checkpoint-*"));
        Assert.NotEmpty(Directory.GetFiles(args.LoggingDir, "events.out.tfevents.*", SearchOption.AllDirectories));
        string report = File.ReadAllText(Path.Combine(dir.Path, "report.html"));
        Assert.Contains("<svg", report);
        Assert.DoesNotContain("http://", report.Replace("http://www.w3.org/2000/svg", ""));
    }

    [Fact]
    public void Early_stopping_stops_after_patience_evaluations_without_improvement_and_keeps_the_best()
    {
        using var dir = new ScratchFolder();
        var data = MemoryBlocks.Patterned(16, 16, TrainerFixtures.Vocab, seed: 12);
        var args = TrainerFixtures.Args(dir.Path, maxSteps: 10);
        args.EvalStrategy = IntervalStrategy.Steps;
        args.EvalSteps = 1;
        args.SaveStrategy = IntervalStrategy.Steps;
        args.SaveSteps = 1;
        args.LoadBestModelAtEnd = true;
        // The loss falls with training, so "greater is better" makes every evaluation after the first a non-improvement.
        args.GreaterIsBetter = true;
        args.EarlyStoppingPatience = 2;
        using var model = TrainerFixtures.TinyGpt2();
        using var trainer = new Trainer(model, args, data, data);

        trainer.Train();

        Assert.Equal(3, trainer.State.GlobalStep);
        Assert.Equal(1, trainer.State.BestGlobalStep);
        Assert.Equal(Path.Combine(dir.Path, "checkpoint-1"), trainer.State.BestModelCheckpoint);
        Assert.Equal(trainer.State.LogHistory.First(e => e.Values.ContainsKey("eval_loss"))["eval_loss"], trainer.State.BestMetric);
        var checkpointState = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(dir.Path, "checkpoint-3", "trainer_state.json")))!;
        Assert.Equal(2, checkpointState["stateful_callbacks"]!["EarlyStoppingCallback"]!["attributes"]!["early_stopping_patience_counter"]!.GetValue<int>());
        // load_best_model_at_end: the weights are those of checkpoint-1.
        var best = SafeTensorsReader.Read(Path.Combine(dir.Path, "checkpoint-1", "model.safetensors"));
        foreach (var (name, parameter) in model.named_parameters())
            Assert.Equal(best[name].data<float>().ToArray(), parameter.data<float>().ToArray());
        foreach (var t in best.Values) t.Dispose();
    }

    [Fact]
    public void Memory_stays_flat_over_many_steps()
    {
        using var dir = new ScratchFolder();
        var data = MemoryBlocks.Patterned(64, 16, TrainerFixtures.Vocab, seed: 9);
        var args = TrainerFixtures.Args(dir.Path, maxSteps: 200);
        args.LoggingSteps = 50;
        using var model = TrainerFixtures.TinyGpt2(dropout: 0.1);
        using var trainer = new Trainer(model, args, data);
        long atStep20 = 0, atStep200 = 0;
        trainer.StepEnd += (_, e) =>
        {
            if (e.GlobalStep == 20) atStep20 = ResidentBytes();
            if (e.GlobalStep == 200) atStep200 = ResidentBytes();
        };

        trainer.Train();

        Assert.True(atStep200 <= atStep20 * 1.10, $"RSS grew from {atStep20 / 1e6:F1} MB at step 20 to {atStep200 / 1e6:F1} MB at step 200");
    }

    private static long ResidentBytes()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        }
        return 0;
    }
}
