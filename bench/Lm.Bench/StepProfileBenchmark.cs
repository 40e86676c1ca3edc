using System.Diagnostics;
using System.Globalization;
using Lm.Runtime.Models;
using Lm.Runtime.Native;
using Lm.Runtime.Training;
using TorchSharp;
using static TorchSharp.torch;

using static Lm.Bench.BenchProcess;

namespace Lm.Bench;

/// <summary>
/// Where a training step's time goes: the trainer's step taken apart with the same public pieces (the model's
/// forward pass to the head's input, the chunked loss with its head product and gradient, backward, the release of the step's tensors, global-norm
/// clipping and AdamW with fp32 masters in bf16 (one phase, as the trainer runs them: the clipping's scaling inside the
/// update's pass; <c>--separate-clip</c> times clip_grad_norm_ and the step apart), zero_grad), each phase timed in
/// wall and process CPU seconds, averaged over the timed steps. Prints the 20-step-style loss of each step too, so two
/// builds can be compared.
/// </summary>
internal static class StepProfileBenchmark
{
    public static int Run(string[] args)
    {
        string preset = Option(args, "--preset") ?? "distilgpt2";
        int batch = IntOption(args, "--batch") ?? 8;
        int length = IntOption(args, "--seq") ?? 128;
        int steps = IntOption(args, "--steps") ?? 3;
        int warmup = Math.Max(1, IntOption(args, "--warmup") ?? 1);
        int threads = IntOption(args, "--threads") ?? 2;
        bool bf16 = !args.Contains("--fp32");
        bool printMarks = args.Contains("--marks");
        bool separateClip = args.Contains("--separate-clip");
        long? chosenChunk = Option(args, "--loss-chunk") is string c ? long.Parse(c, CultureInfo.InvariantCulture) : null;

        TorchRuntime.EnsureLoaded();
        set_num_threads(threads);
        using var model = ModelPresets.Create(preset, seed: 42);
        // As the trainer chooses; where the trainer would take the plain loss, the profile takes one chunk.
        long chunk = chosenChunk ?? ChunkedCrossEntropy.DefaultChunkTokens((long)batch * length, model.VocabSize) switch
        {
            0 => (long)batch * length,
            long chosen => chosen,
        };
        var arguments = new TrainingArguments { OutputDir = Path.GetTempPath(), Bf16 = bf16 };
        using var optimizer = AdamWOptimizer.ForModel(model, arguments, keepFp32Master: bf16);
        if (bf16)
        {
            model.to(ScalarType.BFloat16);
            optimizer.Rebind(model);
        }
        optimizer.LearningRate = 5e-5;
        model.train();
        manual_seed(42);
        var data = new RandomBlocks(batch * (warmup + steps), length, model.VocabSize, seed: 1);
        string[] phases = separateClip
            ? ["forward", "loss (head + CE + its gradient)", "backward", "release of the step's tensors", "clip_grad_norm", "AdamW step", "zero_grad"]
            : ["forward", "loss (head + CE + its gradient)", "backward", "release of the step's tensors", "clip_grad_norm + AdamW step", "zero_grad"];
        var wall = new double[phases.Length];
        var cpu = new double[phases.Length];
        for (int step = 0; step < warmup + steps; step++)
        {
            var marks = new List<(double Wall, double Cpu)>();
            var clock = Stopwatch.StartNew();
            void Mark()
            {
                marks.Add((clock.Elapsed.TotalSeconds, CpuSeconds()));
                // CLOCK_MONOTONIC in ns on Linux: lines up with `perf record -k CLOCK_MONOTONIC` sample times.
                if (printMarks) Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"mark {step} {marks.Count - 1} {Stopwatch.GetTimestamp()}"));
            }
            float lossValue;
            using (var batchData = data.Collate(Enumerable.Range(step * batch, batch).ToArray()))
            {
                using var scope = NewDisposeScope();
                Mark();
                var head = model.ForwardToHead(batchData.InputIds, batchData.AttentionMask)!;
                Mark();
                long items = batchData.InputIds.numel();
                var loss = ChunkedCrossEntropy.Loss(head, batchData.Labels, shiftLabels: true, items, 0.0, chunk);
                Mark();
                loss.backward();
                lossValue = loss.item<float>();
                Mark();
            }
            // The activations, the graph's saved tensors and the batch, freed as the trainer's scope frees them.
            Mark();
            if (separateClip)
            {
                using (var norm = optimizer.ClipGradNorm(1.0)) norm.item<float>();
                Mark();
                optimizer.Step();
            }
            else
            {
                using var norm = optimizer.ClipGradNormAndStep(1.0);
                norm.item<float>();
            }
            Mark();
            optimizer.ZeroGrad();
            Mark();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"step {step + 1}: loss {lossValue:F6}, {marks[^1].Wall - marks[0].Wall:F3} s"));
            if (step < warmup) continue;
            for (int p = 0; p < phases.Length; p++)
            {
                wall[p] += (marks[p + 1].Wall - marks[p].Wall) / steps;
                cpu[p] += (marks[p + 1].Cpu - marks[p].Cpu) / steps;
            }
        }
        Console.WriteLine();
        Console.WriteLine($"{preset}, {(bf16 ? "bf16 with fp32 masters" : "fp32")}, batch {batch} x {length}, {threads} threads, loss chunks of {chunk}");
        Console.WriteLine("| phase | s | CPU s |");
        Console.WriteLine("| --- | ---: | ---: |");
        for (int p = 0; p < phases.Length; p++)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {phases[p]} | {wall[p]:F3} | {cpu[p]:F3} |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| **step** | **{wall.Sum():F3}** | **{cpu.Sum():F3}** |"));
        return 0;
    }
}
