using System.Diagnostics;
using System.Globalization;
using Lm.Runtime.Generation;
using Lm.Runtime.Models;
using Lm.Runtime.Native;
using static TorchSharp.torch;

namespace Lm.Bench;

/// <summary>
/// Greedy generation speed with and without the key/value cache, in one process on one model: a preset's shape
/// (default <c>smollm2-135m</c>) with HF's random initialisation, a prompt of random ids, then N new tokens (no eos, so
/// every run makes all N). Reports new tokens per second, wall and CPU, and checks that both paths chose the same ids.
/// Prints a markdown table.
/// </summary>
internal static class GenerateBenchmark
{
    public static int Run(string[] args)
    {
        string preset = StringOption(args, "--preset") ?? "smollm2-135m";
        int newTokens = IntOption(args, "--new-tokens") ?? 128;
        int promptLength = IntOption(args, "--prompt") ?? 16;
        int threads = IntOption(args, "--threads") ?? 2;

        TorchRuntime.EnsureLoaded();
        set_num_threads(threads);
        using var model = ModelPresets.Create(preset, seed: 42);
        model.eval();
        var random = new Random(1);
        long[] prompt = Enumerable.Range(0, promptLength).Select(_ => (long)random.Next(model.VocabSize)).ToArray();
        var options = new GenerationOptions { MaxNewTokens = newTokens };

        Console.WriteLine($"{preset} shape ({model.ParameterCount():N0} parameters, float32), prompt {promptLength} tokens, " +
                          $"{newTokens} new tokens, greedy, {threads} threads, CPU: {CpuModel()}");
        Console.WriteLine();
        // A short warm-up of each path, so JIT and libtorch's first-call setup stay out of the figures.
        TextGenerator.Generate(model, prompt, options with { MaxNewTokens = 2 }, useCache: true);
        TextGenerator.Generate(model, prompt, options with { MaxNewTokens = 2 }, useCache: false);

        Console.WriteLine("| path | new tokens | s | tokens/s | CPU s | ms / token |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: |");
        // Each row is printed when measured: on a busy machine the slow path may be cut short, the other row stays.
        var cached = Measure(model, prompt, options, useCache: true, "KV cache (prefill, then one token per step)");
        var recomputed = Measure(model, prompt, options, useCache: false, "no cache (whole sequence every step)");
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"speed-up with the cache: {recomputed.Wall / cached.Wall:F1}x; " +
            $"same ids on both paths: {(cached.Ids.SequenceEqual(recomputed.Ids) ? "yes" : "NO")}"));
        return cached.Ids.SequenceEqual(recomputed.Ids) ? 0 : 1;
    }

    private static (IReadOnlyList<long> Ids, double Wall, double Cpu) Measure(LanguageModel model, long[] prompt, GenerationOptions options, bool useCache, string name)
    {
        GC.Collect();
        double cpu = CpuSeconds();
        var clock = Stopwatch.StartNew();
        var result = TextGenerator.Generate(model, prompt, options, useCache);
        var (ids, wall, used) = (result.NewTokenIds, clock.Elapsed.TotalSeconds, CpuSeconds() - cpu);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {name} | {ids.Count} | {wall:F2} | {ids.Count / wall:F1} | {used:F2} | {1000 * wall / ids.Count:F1} |"));
        return (ids, wall, used);
    }

    private static double CpuSeconds() => Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;

    /// <summary>The processor's name as lscpu prints it ("Model name"), from /proc/cpuinfo.</summary>
    private static string CpuModel()
    {
        const string cpuInfo = "/proc/cpuinfo";
        if (!File.Exists(cpuInfo)) return "unknown";
        string? line = File.ReadLines(cpuInfo).FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
        return line is null ? "unknown" : line[(line.IndexOf(':') + 1)..].Trim();
    }

    private static int? IntOption(string[] args, string name) => StringOption(args, name) is { } value ? int.Parse(value, CultureInfo.InvariantCulture) : null;

    private static string? StringOption(string[] args, string name)
    {
        int index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }
}
