using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lm.Tasks.Jobs;

/// <summary>
/// The <c>.lm-complete</c> file in a job's output folder: the build target's output. It exists only after a
/// successful run and records which job (by hash) it completed and the tool's results.
/// </summary>
internal static class CompletionStamp
{
    public const string FileName = ".lm-complete";

    public static void Write(string path, string jobHash, JsonObject results)
    {
        var stamp = new JsonObject { ["job_sha256"] = jobHash, ["results"] = results.DeepClone() };
        AtomicFile.WriteAllText(path, stamp.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>The job hash a stamp records, or null when there is no readable stamp.</summary>
    public static string? ReadJobHash(string path)
    {
        try
        {
            return File.Exists(path) ? JsonNode.Parse(File.ReadAllText(path))?["job_sha256"]?.GetValue<string>() : null;
        }
        catch (Exception e) when (e is JsonException or IOException or InvalidOperationException)
        {
            return null;
        }
    }
}
