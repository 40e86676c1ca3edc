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
/// gradient checkpointing is not model work). <c>gemm</c>: libtorch's matrix-product rate at the model's own linear
/// shapes (the forward product and the two of its backward pass, tokens × in → out), float32 and bf16, to read the
/// step's FLOP rate against (MFU).
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
        var shape = Shape.Of(model);
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
        Console.WriteLine($"CPU: {CpuDescription()}; {threads} threads; libtorch {__version__}");
        Shape shape;
        using (var model = ModelPresets.Create(preset, seed: 1)) shape = Shape.Of(model);
        Console.WriteLine($"{preset}: {shape.MatmulParameters:N0} matmul parameters; {tokens} tokens per product");
        Console.WriteLine();
        Console.WriteLine("| linear (in → out) | count | fp32 GFLOP/s | bf16 GFLOP/s |");
        Console.WriteLine("| --- | ---: | ---: | ---: |");
        double fp32Time = 0, bf16Time = 0, totalFlops = 0;
        foreach (var ((inFeatures, outFeatures), count) in shape.Linears)
        {
            double flops = 3 * 2.0 * tokens * inFeatures * outFeatures;
            double fp32 = TimeLinear(tokens, inFeatures, outFeatures, ScalarType.Float32, repeats);
            double bf16 = TimeLinear(tokens, inFeatures, outFeatures, ScalarType.BFloat16, repeats);
            fp32Time += count * fp32;
            bf16Time += count * bf16;
            totalFlops += count * flops;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {inFeatures} → {outFeatures} | {count} | {flops / fp32 / 1e9:F1} | {flops / bf16 / 1e9:F1} |"));
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| **the model's mix** (weighted by FLOPs) | | **{totalFlops / fp32Time / 1e9:F1}** | **{totalFlops / bf16Time / 1e9:F1}** |"));
        return 0;
    }

    /// <summary>Best of <paramref name="repeats"/> for the three products of a linear layer: X·Wᵀ, dY·W, dYᵀ·X.</summary>
    private static double TimeLinear(int tokens, int inFeatures, int outFeatures, ScalarType dtype, int repeats)
    {
        using var scope = NewDisposeScope();
        var x = randn(tokens, inFeatures).to(dtype);
        var w = randn(outFeatures, inFeatures).to(dtype);
        var dy = randn(tokens, outFeatures).to(dtype);
        using (no_grad())
        {
            nn.functional.linear(x, w).Dispose(); // warm-up
            double best = double.MaxValue;
            for (int r = 0; r < repeats; r++)
            {
                var clock = Stopwatch.StartNew();
                using (var y = nn.functional.linear(x, w))
                using (var dx = dy.matmul(w))
                using (var dw = dy.t().matmul(x)) { }
                best = Math.Min(best, clock.Elapsed.TotalSeconds);
            }
            return best;
        }
    }

    /// <summary>The model's linear layers (in, out) with their counts, and its FLOPs per training step.</summary>
    private sealed record Shape(IReadOnlyList<((int In, int Out) Shape, int Count)> Linears, int Layers, int Width)
    {
        public long MatmulParameters => Linears.Sum(l => (long)l.Shape.In * l.Shape.Out * l.Count);

        public double ModelFlopsPerStep(int batch, int length)
        {
            double tokens = (double)batch * length;
            return 6.0 * MatmulParameters * tokens + 12.0 * Layers * Width * length * tokens;
        }

        public static Shape Of(LanguageModel model)
        {
            var linears = new List<(int, int)>();
            int layers, width;
            switch (model.Config)
            {
                case LlamaFamilyConfig c:
                    layers = c.NumHiddenLayers;
                    width = c.NumAttentionHeads * c.HeadDim;
                    int kv = c.KeyValueHeadCount * c.HeadDim;
                    for (int i = 0; i < layers; i++)
                        linears.AddRange([(c.HiddenWidth, width), (c.HiddenWidth, kv), (c.HiddenWidth, kv), (width, c.HiddenWidth),
                            (c.HiddenWidth, c.IntermediateSize), (c.HiddenWidth, c.IntermediateSize), (c.IntermediateSize, c.HiddenWidth)]);
                    linears.Add((c.HiddenWidth, c.VocabSize));
                    break;
                case Gpt2Config g:
                    layers = g.NLayer;
                    width = g.NEmbd;
                    for (int i = 0; i < layers; i++)
                        linears.AddRange([(g.NEmbd, 3 * g.NEmbd), (g.NEmbd, g.NEmbd), (g.NEmbd, g.InnerSize), (g.InnerSize, g.NEmbd)]);
                    linears.Add((g.NEmbd, g.VocabSize));
                    break;
                default:
                    throw new ArgumentException($"no FLOP count for {model.ArchitectureName}");
            }
            var grouped = linears.GroupBy(l => l).Select(g => (g.Key, g.Count())).ToList();
            return new Shape(grouped, layers, width);
        }
    }

    private static string CpuDescription()
    {
        string name = "unknown", flags = "";
        foreach (var line in File.ReadLines("/proc/cpuinfo"))
        {
            if (line.StartsWith("model name", StringComparison.Ordinal) && name == "unknown") name = line[(line.IndexOf(':') + 1)..].Trim();
            if (line.StartsWith("flags", StringComparison.Ordinal) && flags == "") flags = line;
        }
        var features = new[] { "avx2", "avx512f", "avx512_bf16", "amx_bf16" }.Where(f => flags.Split(' ').Contains(f));
        return $"{name} ({string.Join(", ", features)})";
    }
}
