using System.Globalization;
using Lm.Runtime.Data;
using Lm.Runtime.Evaluation;
using Lm.Runtime.Models;
using Lm.Runtime.Native;
using Lm.Runtime.Training;
using TorchSharp;
using static TorchSharp.torch;

using static Lm.Bench.BenchProcess;

namespace Lm.Bench;

/// <summary>
/// Times the trainer on a distilgpt2-shaped model (6 layers, 768 wide, vocabulary 50257, HF random init, dropout
/// 0.1) with random tokens: seconds per optimizer step through <see cref="Trainer"/> (forward, backward, clipping,
/// AdamW), seconds per evaluation batch through <see cref="Evaluator"/>, tokens per second and peak RSS, in fp32
/// and bf16. Prints a markdown table. With <c>--mfu</c> it then measures libtorch's GEMM rate at the model's own
/// shapes in the same process (<see cref="GemmMix"/>) and prints the train step's model FLOPs, FLOP rate and MFU, so
/// one command gives the figure on any machine.
/// </summary>
internal static class TrainStepBenchmark
{
    public static int Run(string[] args)
    {
        int steps = IntOption(args, "--steps") ?? 5;
        int warmup = Math.Max(1, IntOption(args, "--warmup") ?? 1);
        int batch = IntOption(args, "--batch") ?? 8;
        int length = IntOption(args, "--seq") ?? 128;
        int threads = IntOption(args, "--threads") ?? 2;
        int evalBatches = IntOption(args, "--eval-batches") ?? 4;
        bool[] precisions = args.Contains("--bf16-only") ? [true] : args.Contains("--fp32-only") ? [false] : [false, true];
        bool mfu = args.Contains("--mfu");

        TorchRuntime.EnsureLoaded();
        set_num_threads(threads);
        Console.WriteLine($"distilgpt2 shape, batch {batch} x {length}, {threads} threads, {warmup} warm-up + {steps} timed steps");
        Console.WriteLine();
        Console.WriteLine("| precision | s / train step | CPU s / train step | s / eval step | CPU s / eval step | train tokens/s | eval tokens/s | peak RSS |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        var trainSeconds = new Dictionary<bool, double>();
        foreach (bool bf16 in precisions)
        {
            var m = Measure(bf16, steps, warmup, batch, length, evalBatches);
            trainSeconds[bf16] = m.Train.Wall;
            double tokens = batch * length;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {(bf16 ? "bf16 (fp32 masters)" : "fp32")} | {m.Train.Wall:F2} | {m.Train.Cpu:F2} | {m.Eval.Wall:F2} | {m.Eval.Cpu:F2} | " +
                $"{tokens / m.Train.Wall:F0} | {tokens / m.Eval.Wall:F0} | {PeakResidentBytes() / 1e9:F2} GB |"));
        }
        if (mfu) PrintMfu(trainSeconds, batch, length);
        return 0;
    }

    /// <summary>The train steps' FLOP rate against libtorch's GEMM rate at the model's shapes, measured now.</summary>
    private static void PrintMfu(Dictionary<bool, double> trainSeconds, int batch, int length)
    {
        ModelShape shape;
        using (var model = LanguageModel.Create(new Gpt2Config { NLayer = 6 }, seed: 1)) shape = ModelShape.Of(model);
        int tokens = batch * length;
        var (fp32Rate, bf16Rate) = GemmMix.Measure(shape, tokens, repeats: 3);
        double flops = shape.ModelFlopsPerStep(batch, length);
        Console.WriteLine();
        Console.WriteLine($"CPU: {GemmMix.CpuDescription()}; {get_num_threads()} threads; {flops / 1e9:F0} model GFLOP per step");
        Console.WriteLine("| precision | s / train step | GFLOP/s | GEMM mix GFLOP/s | MFU |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: |");
        foreach (var (bf16, seconds) in trainSeconds)
        {
            double rate = flops / seconds / 1e9, limit = bf16 ? bf16Rate : fp32Rate;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {(bf16 ? "bf16 (fp32 masters)" : "fp32")} | {seconds:F2} | {rate:F1} | {limit:F1} | {100 * rate / limit:F0}% |"));
        }
    }

    private static ((double Wall, double Cpu) Train, (double Wall, double Cpu) Eval) Measure(bool bf16, int steps, int warmup, int batch, int length, int evalBatches)
    {
        using var model = LanguageModel.Create(new Gpt2Config { NLayer = 6 }, seed: 42);
        var train = TimedTraining.SecondsPerStep(model, batch, length, warmup, steps, bf16);

        if (bf16) model.to(ScalarType.BFloat16);
        var evaluator = new Evaluator(model, new RandomBlocks(batch * evalBatches, length, model.VocabSize, seed: 2), batch);
        evaluator.Evaluate(); // warm-up
        double cpu = CpuSeconds();
        var metrics = evaluator.Evaluate();
        var eval = (metrics["eval_runtime"] / evalBatches, (CpuSeconds() - cpu) / evalBatches);
        return (train, eval);
    }
}
