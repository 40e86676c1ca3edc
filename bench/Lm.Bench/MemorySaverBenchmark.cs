using System.Diagnostics;
using System.Globalization;
using Lm.Runtime.Data;
using Lm.Runtime.Models;
using Lm.Runtime.Native;
using Lm.Runtime.Training;
using TorchSharp;
using static TorchSharp.torch;

using static Lm.Bench.BenchProcess;

namespace Lm.Bench;

/// <summary>
/// <c>memory-step</c>: one configuration of the trainer per process (peak RSS is the process's), on a preset's shape
/// with random tokens: seconds per optimizer step, peak RSS, and the model FLOPs per step (6 × matmul parameters ×
/// tokens + 12 × layers × width × sequence × tokens for attention's two products, PaLM's count; the recomputation of
/// gradient checkpointing is not model work; <see cref="ModelShape"/>). <c>gemm</c>: libtorch's matrix-product rate
/// at the model's own linear shapes, float32 and bf16, to read the step's FLOP rate against (MFU; <see cref="GemmMix"/>).
/// </summary>
internal static class MemorySaverBenchmark
{
    public static int RunStep(string[] args)
    {
        string preset = Option(args, "--preset") ?? "smollm2-135m";
        int batch = IntOption(args, "--batch") ?? 8;
        int length = IntOption(args, "--seq") ?? 512;
        int steps = IntOption(args, "--steps") ?? 1;
        int warmup = Math.Max(1, IntOption(args, "--warmup") ?? 1);
        int threads = IntOption(args, "--threads") ?? 2;
        bool checkpointing = args.Contains("--checkpointing");
        bool bf16 = args.Contains("--bf16");
        long? chunk = Option(args, "--loss-chunk") is string c ? long.Parse(c, CultureInfo.InvariantCulture) : null;

        TorchRuntime.EnsureLoaded();
        set_num_threads(threads);
        using var model = ModelPresets.Create(preset, seed: 42);
        var shape = ModelShape.Of(model);
        var (wall, cpu) = TimedTraining.SecondsPerStep(model, batch, length, warmup, steps, bf16, checkpointing,
            new TrainerOptions { LossChunkTokens = chunk });
        double flops = shape.ModelFlopsPerStep(batch, length);
        string loss = chunk switch { null => "auto", 0 => "plain", _ => $"chunks of {chunk}" };
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {preset} | {(bf16 ? "bf16" : "fp32")} | {batch} × {length} | {(checkpointing ? "on" : "off")} | {loss} | " +
            $"{wall:F2} | {cpu:F2} | {PeakResidentBytes() / 1e9:F2} GB | {flops / 1e9:F0} | {flops / wall / 1e9:F1} |"));
        return 0;
    }

    public static int RunGemm(string[] args)
    {
        string preset = Option(args, "--preset") ?? "smollm2-135m";
        int tokens = IntOption(args, "--tokens") ?? 4096;
        int threads = IntOption(args, "--threads") ?? 2;
        int repeats = IntOption(args, "--repeats") ?? 3;
        TorchRuntime.EnsureLoaded();
        set_num_threads(threads);
        Console.WriteLine($"CPU: {GemmMix.CpuDescription()}; {threads} threads; libtorch {__version__}");
        ModelShape shape;
        using (var model = ModelPresets.Create(preset, seed: 1)) shape = ModelShape.Of(model);
        Console.WriteLine($"{preset}: {shape.MatmulParameters:N0} matmul parameters; {tokens} tokens per product");
        Console.WriteLine();
        Console.WriteLine("| linear (in → out) | count | fp32 GFLOP/s | bf16 GFLOP/s |");
        Console.WriteLine("| --- | ---: | ---: | ---: |");
        var mix = GemmMix.Measure(shape, tokens, repeats, (inFeatures, outFeatures, count, fp32, bf16) =>
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {inFeatures} → {outFeatures} | {count} | {fp32:F1} | {bf16:F1} |")));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| **the model's mix** (weighted by FLOPs) | | **{mix.Fp32:F1}** | **{mix.Bf16:F1}** |"));
        return 0;
    }
}
