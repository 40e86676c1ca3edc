using Lm.Runtime.Errors;
using Lm.Runtime.Hub;

namespace Lm.Runtime.Data;

/// <summary>
/// Makes a job's <c>dataset_name</c> / <c>dataset_config_name</c> present in the hub cache, where
/// <see cref="HubDatasetCache"/> reads it: nothing to do when it is cached; otherwise (online) the config's parquet
/// files are downloaded from the hub's dataset repository (<c>wikitext</c> → <c>Salesforce/wikitext</c>).
/// </summary>
public static class DatasetLocator
{
    public static async Task EnsureCachedAsync(DataArguments args, HubSettings settings, Action<string>? log, CancellationToken cancellation)
    {
        if (args.DatasetName is null) return;
        try
        {
            HubDatasetCache.Resolve(args.DatasetName, args.DatasetConfigName, settings.CacheDir, args.TextColumn);
            return;
        }
        // Only a valid repository id is asked of the hub: the name becomes part of its addresses.
        catch (LmException missing) when (missing.Code is ErrorCodes.DatasetNotCached or ErrorCodes.UnknownDatasetConfig && !settings.Offline
                                          && HubCache.IsRepoId(HubDatasetCache.RepositoryIds(args.DatasetName)[0]))
        {
            string repoId = HubDatasetCache.RepositoryIds(args.DatasetName)[0];
            string folder = args.DatasetConfigName ?? "data";
            log?.Invoke($"dataset {repoId} ({folder}): downloading from {settings.Endpoint}");
            using var client = new HubClient(settings, HubRepoKind.Dataset);
            if (log is not null) client.Log += log;
            // wikitext's files are known by name; other datasets are listed by the hub's tree API.
            string? snapshot = repoId == "Salesforce/wikitext" && args.DatasetConfigName is not null
                ? await client.DownloadFilesAsync(repoId, "main", HubDatasetCache.WikitextFiles(args.DatasetConfigName), cancellation)
                : await client.DownloadParquetFolderAsync(repoId, "main", folder, cancellation);
            if (snapshot is null) throw;
        }
    }
}
