using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lm.Tasks.Jobs;

/// <summary>
/// The <c>.lm-complete</c> file in a job's output folder: the build target's output. It exists only after a
/// successful run and records the content-addressed key of the job it completed (<c>cache_key</c>), the hub commit a
/// hub model's revision resolved to (<c>model_commit</c>, pinned for machines whose hub cache lacks it) and the
/// tool's results.
/// </summary>
internal static class CompletionStamp
{
    public const string FileName = ".lm-complete";

    public static void Write(string path, string cacheKey, string? modelCommit, JsonObject results)
    {
        var stamp = new JsonObject { ["cache_key"] = cacheKey, ["model_commit"] = modelCommit, ["results"] = results.DeepClone() };
        AtomicFile.WriteAllText(path, stamp.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>The key a stamp records, or null when there is no readable stamp.</summary>
    public static string? ReadCacheKey(string path) => ReadText(path, "cache_key");

    /// <summary>The hub commit a stamp pins, or null.</summary>
    public static string? ReadModelCommit(string path) => ReadText(path, "model_commit");

    private static string? ReadText(string path, string key)
    {
        try
        {
            return File.Exists(path) && JsonNode.Parse(File.ReadAllText(path))?[key] is JsonValue value
                   && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;
        }
        catch (Exception e) when (e is JsonException or IOException or InvalidOperationException)
        {
            return null;
        }
    }
}
