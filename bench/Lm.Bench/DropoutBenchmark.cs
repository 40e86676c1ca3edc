using System.Diagnostics;
using System.Globalization;
using Lm.Runtime.Models;
using Lm.Runtime.Native;
using static TorchSharp.torch;

using static Lm.Bench.BenchProcess;

namespace Lm.Bench;

/// <summary>
/// One training-mode dropout (p = 0.1) of a distilgpt2 hidden state, [8, 128, 768], in float32 and bf16: torch's
/// <c>nn.functional.dropout</c> against <see cref="TorchDropout"/>, alternating, median milliseconds of each. Both
/// draw from the global generator, so the two also check each other: from one seed their outputs must be equal.
/// </summary>
internal static class DropoutBenchmark
{
    public static int Run(string[] args)
    {
        int repeats = IntOption(args, "--repeats") ?? 30;
        int threads = IntOption(args, "--threads") ?? 2;
        TorchRuntime.EnsureLoaded();
        set_num_threads(threads);
        Console.WriteLine($"cpu: {CpuModel()}; threads {threads}; fast path verified: {TorchDropout.MatchesTorch.Value}");
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
        {
            using var x = randn(8, 128, 768).to(dtype);
            manual_seed(1);
            using var theirs = nn.functional.dropout(x, 0.1, true);
            manual_seed(1);
            using var ours = TorchDropout.Apply(x, 0.1, true);
            if (!theirs.bytes.SequenceEqual(ours.bytes)) throw new InvalidOperationException($"{dtype}: outputs differ");
            var torchTimes = new List<double>();
            var ownTimes = new List<double>();
            for (int i = 0; i < repeats + 3; i++)
            {
                double a = Time(() => nn.functional.dropout(x, 0.1, true)), b = Time(() => TorchDropout.Apply(x, 0.1, true));
                if (i < 3) continue;
                torchTimes.Add(a);
                ownTimes.Add(b);
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{dtype,-9} torch dropout {Median(torchTimes):F3} ms   TorchDropout {Median(ownTimes):F3} ms   (median of {repeats})"));
        }
        return 0;
    }

    private static double Time(Func<Tensor> dropout)
    {
        var clock = Stopwatch.StartNew();
        using var result = dropout();
        return clock.Elapsed.TotalMilliseconds;
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    private static string CpuModel() =>
        File.Exists("/proc/cpuinfo") ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"))?.Split(':')[1].Trim() ?? "?" : "?";
}
