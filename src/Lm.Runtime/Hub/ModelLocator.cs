using Lm.Runtime.Errors;

namespace Lm.Runtime.Hub;

/// <summary>
/// Turns a <c>--model</c> value into a folder on disk: a local folder as is (a hub cache repository folder
/// <c>models--org--name</c> resolves to its snapshot of the revision), else a hub id from the cache, else (online)
/// downloaded into the cache. Preset names are the caller's to recognise before calling this.
/// </summary>
public static class ModelLocator
{
    /// <summary>
    /// Finds or downloads <paramref name="modelNameOrPath"/>; throws LM0501 when it is nowhere to be had, LM0522 when
    /// <paramref name="revision"/> is no branch, tag or commit name (it becomes a path in the cache, so <c>../x</c>
    /// is refused whatever the model).
    /// </summary>
    public static async Task<string> ResolveAsync(string modelNameOrPath, string revision, HubSettings settings,
        Action<string>? log, CancellationToken cancellation)
    {
        HubCache.RequireRevision(revision);
        if (Directory.Exists(modelNameOrPath))
            return ResolveLocalFolder(modelNameOrPath, revision);
        if (!HubCache.IsRepoId(modelNameOrPath))
            throw new LmException(ErrorCodes.ModelNotFound,
                $"model '{modelNameOrPath}' is neither an existing folder nor a hub id (org/name)") { File = modelNameOrPath };

        var cache = new HubCache(settings.CacheDir);
        string? cached = cache.FindModelSnapshot(modelNameOrPath, revision);
        if (settings.Offline)
        {
            if (cached is not null)
            {
                log?.Invoke($"{modelNameOrPath}: using the cached snapshot {cached} (HF_HUB_OFFLINE is set)");
                return cached;
            }
            throw new LmException(ErrorCodes.ModelNotFound,
                $"model '{modelNameOrPath}' ({revision}) is not a folder and not in the hub cache {settings.CacheDir}, and HF_HUB_OFFLINE is set; " +
                "download it once online, or pass a local folder or a preset such as tiny-gpt2");
        }
        using var client = new HubClient(settings);
        if (log is not null) client.Log += log;
        try
        {
            return await client.DownloadModelAsync(modelNameOrPath, revision, cancellation);
        }
        catch (LmException e) when (e.Code == ErrorCodes.HubDownloadFailed && cached is not null)
        {
            // As transformers does: an unreachable hub is no reason to refuse a model that is already cached.
            log?.Invoke($"{modelNameOrPath}: {e.Message}; using the cached snapshot {cached}");
            return cached;
        }
    }

    private static string ResolveLocalFolder(string folder, string revision)
    {
        if (File.Exists(Path.Combine(folder, "config.json"))) return folder;
        // A hub cache repository folder (models--org--name): its snapshot of the revision.
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder)));
        if (name.StartsWith("models--", StringComparison.Ordinal) && Directory.Exists(Path.Combine(folder, "snapshots")))
        {
            string repoId = name["models--".Length..].Replace("--", "/");
            string? snapshot = new HubCache(Path.GetDirectoryName(Path.GetFullPath(folder))!).FindModelSnapshot(repoId, revision);
            if (snapshot is not null) return snapshot;
        }
        return folder;
    }
}
