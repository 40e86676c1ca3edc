using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Lm.Runtime.Checkpoints;

namespace Lm.Runtime.Training;

/// <summary>
/// run_clm.py's result files: <c>train_results.json</c>, <c>eval_results.json</c> and the merged
/// <c>all_results.json</c>, as HF's <c>Trainer.save_metrics</c> writes them (<c>json.dump(indent=4, sort_keys=True)</c>).
/// <c>train_samples</c> and <c>eval_samples</c> are integers, every other value a float.
/// </summary>
public static partial class RunResults
{
    /// <summary>Writes <c>{split}_results.json</c> and merges the metrics into <c>all_results.json</c>.</summary>
    public static void Save(string outputDir, string split, IReadOnlyDictionary<string, double> metrics)
    {
        Directory.CreateDirectory(outputDir);
        AtomicFile.WriteAllText(Path.Combine(outputDir, $"{split}_results.json"), PythonJson.Serialize(ToJson(metrics), indent: 4));
        string allPath = Path.Combine(outputDir, "all_results.json");
        var all = File.Exists(allPath) ? Read(allPath) : new JsonObject();
        foreach (var (key, value) in ToJson(metrics)) all[key] = value?.DeepClone();
        AtomicFile.WriteAllText(allPath, PythonJson.Serialize(all, indent: 4));
    }

    /// <summary>The metrics as JSON values typed as HF has them.</summary>
    public static JsonObject ToJson(IReadOnlyDictionary<string, double> metrics)
    {
        var json = new JsonObject();
        foreach (var (key, value) in metrics)
            json[key] = key.EndsWith("_samples", StringComparison.Ordinal) && value == Math.Floor(value) && Math.Abs(value) < long.MaxValue
                ? JsonValue.Create((long)value)
                : TrainerState.PythonFloat(value);
        return json;
    }

    /// <summary>Reads a results file, accepting Python's <c>Infinity</c> and <c>NaN</c> literals.</summary>
    public static JsonObject Read(string path)
    {
        string text = PythonLiteral().Replace(File.ReadAllText(path), m => $"{m.Groups[1].Value}\"{m.Groups[2].Value}\"");
        var json = JsonNode.Parse(text) as JsonObject ?? new JsonObject();
        foreach (var (key, value) in json.ToList())
        {
            if (value is JsonValue v && v.TryGetValue(out string? literal) && literal is "Infinity" or "-Infinity" or "NaN")
                json[key] = TrainerState.PythonFloat(double.Parse(literal, System.Globalization.NumberFormatInfo.InvariantInfo));
        }
        return json;
    }

    [GeneratedRegex(@"(:\s*)(-?Infinity|NaN)(?=\s*[,}\]])")]
    private static partial Regex PythonLiteral();
}
