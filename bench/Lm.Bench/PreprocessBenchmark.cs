using System.Diagnostics;
using System.Text;
using Lm.Runtime.Data;
using Lm.Runtime.Tokenization;

namespace Lm.Bench;

/// <summary>
/// Times run_clm.py preprocessing of a text file with the GPT-2 tokenizer: tokenizer load, a cold build of the token
/// cache (read, tokenize on the given cores, group, write), a cached load, and single-thread tokenizer throughput.
/// Prints a markdown table. Run it twice with the same <c>--cache-root</c> to time a cached load in a new process.
/// </summary>
internal static class PreprocessBenchmark
{
    public static int Run(string[] args)
    {
        if (args.Length == 0) return Fail("preprocess needs the path of a .txt file");
        string path = args[0];
        int blockSize = IntOption(args, "--block-size") ?? 1024;
        int workers = IntOption(args, "--workers") ?? 2;
        string? cacheRootOption = StringOption(args, "--cache-root");
        string cacheRoot = cacheRootOption ?? Path.Combine(Path.GetTempPath(), "lm-bench-" + Guid.NewGuid().ToString("N"));

        try
        {
            var clock = new Timing();
            ITextEncoder encoder = LmTokenizer.Gpt2().AsTextEncoder();
            encoder.Encode("warm up", new List<int>());
            var load = clock.Lap();
            _ = encoder.Fingerprint;
            var fingerprint = clock.Lap();

            var source = TextSource.FromFile(path);
            var options = new PreprocessingOptions { BlockSize = blockSize, Workers = workers, CacheRoot = cacheRoot };

            clock.Lap();
            var first = TokenCache.GetOrBuild(source, "train", encoder, options);
            var firstTime = clock.Lap();
            bool firstWasCached = first.FromCache;
            var stats = first.Stats;
            first.Dispose();

            clock.Lap();
            using (var second = TokenCache.GetOrBuild(TextSource.FromFile(path), "train", encoder, options))
            {
                if (!second.FromCache) throw new InvalidOperationException("the second load was not a cache hit");
            }
            var cached = clock.Lap();

            using (TokenCache.GetOrBuild(TextSource.FromFile(path), "train", encoder, options with { OverwriteCache = true })) { }
            var rebuild = clock.Lap();

            var (megabytes, throughput) = TokenizerThroughput(source, encoder, warmUp: true);
            var (_, freshThroughput) = TokenizerThroughput(source, FreshGpt2(), warmUp: false);

            Console.WriteLine($"| measurement | wall | CPU |");
            Console.WriteLine($"| --- | ---: | ---: |");
            Console.WriteLine($"| input | {Path.GetFileName(path)}: {megabytes:F2} MB, {stats.Rows:N0} rows, {stats.Tokens:N0} tokens |");
            Console.WriteLine($"| output | {stats.Examples:N0} blocks of {blockSize}, {stats.DroppedTokens:N0} tokens dropped |");
            Console.WriteLine($"| GPT-2 tokenizer load | {load} |");
            Console.WriteLine($"| tokenizer fingerprint (once per process) | {fingerprint} |");
            Console.WriteLine(firstWasCached
                ? $"| cached load, new process ({workers} workers) | {firstTime} |"
                : $"| cold preprocess ({workers} workers) | {firstTime} |");
            Console.WriteLine($"| cached load, same process | {cached} |");
            Console.WriteLine($"| rebuild (overwrite_cache), same process ({workers} workers) | {rebuild} |");
            Console.WriteLine($"| tokenizer throughput, 1 thread, new tokenizer (empty word cache) | {freshThroughput.Wall:F1} MB/s | {freshThroughput.Cpu:F1} MB/s |");
            Console.WriteLine($"| tokenizer throughput, 1 thread, words seen before | {throughput.Wall:F1} MB/s | {throughput.Cpu:F1} MB/s |");
            return 0;
        }
        finally
        {
            if (cacheRootOption is null && Directory.Exists(cacheRoot)) Directory.Delete(cacheRoot, recursive: true);
        }
    }

    /// <summary>
    /// UTF-8 megabytes per wall-clock and per CPU second encoding every row on one thread, optionally after a
    /// warm-up pass over 2000 rows.
    /// </summary>
    private static (double Megabytes, (double Wall, double Cpu) MegabytesPerSecond) TokenizerThroughput(
        TextSource source, ITextEncoder encoder, bool warmUp)
    {
        var rows = source.ReadRows().ToList();
        double megabytes = rows.Sum(r => (long)Encoding.UTF8.GetByteCount(r)) / 1e6;
        var ids = new List<int>(1 << 16);
        if (warmUp)
        {
            foreach (string row in rows.Take(2000)) { ids.Clear(); encoder.Encode(row, ids); }
        }
        var clock = new Timing();
        foreach (string row in rows) { ids.Clear(); encoder.Encode(row, ids); }
        var time = clock.Lap();
        return (megabytes, (megabytes / time.Wall.TotalSeconds, megabytes / time.Cpu.TotalSeconds));
    }

    /// <summary>Wall-clock and process CPU time between laps: on a shared machine the CPU time is the steadier figure.</summary>
    private sealed class Timing
    {
        private readonly Stopwatch _wall = Stopwatch.StartNew();
        private TimeSpan _cpuStart = Process.GetCurrentProcess().TotalProcessorTime;

        public Lap Lap()
        {
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var lap = new Lap(_wall.Elapsed, cpu - _cpuStart);
            _wall.Restart();
            _cpuStart = cpu;
            return lap;
        }
    }

    private readonly record struct Lap(TimeSpan Wall, TimeSpan Cpu)
    {
        public override string ToString() => $"{Wall.TotalSeconds:F3} s | {Cpu.TotalSeconds:F3} s";
    }

    /// <summary>A GPT-2 tokenizer object of its own (saved and read back), so no word has been seen yet.</summary>
    private static ITextEncoder FreshGpt2()
    {
        string folder = Path.Combine(Path.GetTempPath(), "lm-bench-gpt2-" + Guid.NewGuid().ToString("N"));
        try
        {
            LmTokenizer.Gpt2().Save(folder);
            return LmTokenizer.FromPretrained(folder).AsTextEncoder();
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static int? IntOption(string[] args, string name) => StringOption(args, name) is { } value ? int.Parse(value) : null;

    private static string? StringOption(string[] args, string name)
    {
        int index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine(message);
        return 2;
    }
}
