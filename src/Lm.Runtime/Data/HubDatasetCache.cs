using Lm.Runtime.Errors;
using Lm.Runtime.Files;
using Lm.Runtime.Hub;

namespace Lm.Runtime.Data;

/// <summary>The splits of a dataset; a split the dataset does not have is null.</summary>
public sealed record DatasetSplits(TextSource? Train, TextSource? Validation, TextSource? Test);

/// <summary>
/// Finds a hub dataset's parquet files in the Hugging Face cache layout
/// (<c>HUB/datasets--ORG--NAME/snapshots/REV/CONFIG/SPLIT-00000-of-00001.parquet</c>), giving the same rows as
/// <c>load_dataset(name, config)</c>. Downloading into that layout is the hub client's job; this only reads.
/// </summary>
public static class HubDatasetCache
{
    /// <summary>The configs of the <c>wikitext</c> dataset.</summary>
    public static IReadOnlyList<string> WikitextConfigs { get; } =
        ["wikitext-103-raw-v1", "wikitext-103-v1", "wikitext-2-raw-v1", "wikitext-2-v1"];

    private static readonly string[] SplitNames = ["train", "validation", "test"];

    /// <summary>
    /// The parquet files of a <c>wikitext</c> config in the <c>Salesforce/wikitext</c> repository, relative to a
    /// snapshot (<c>wikitext-2-raw-v1/train-00000-of-00001.parquet</c>, ...): what a hub client downloads into
    /// <c>datasets--Salesforce--wikitext/snapshots/REV/</c> for <see cref="Resolve"/> to find.
    /// </summary>
    public static IReadOnlyList<string> WikitextFiles(string configName)
    {
        if (!WikitextConfigs.Contains(configName))
            throw new LmException(ErrorCodes.UnknownDatasetConfig,
                $"unknown config '{configName}' for dataset 'wikitext'; the configs are: {string.Join(", ", WikitextConfigs)}");
        int trainShards = configName.StartsWith("wikitext-103", StringComparison.Ordinal) ? 2 : 1;
        var files = Enumerable.Range(0, trainShards).Select(i => $"{configName}/train-{i:D5}-of-{trainShards:D5}.parquet").ToList();
        files.Add($"{configName}/validation-00000-of-00001.parquet");
        files.Add($"{configName}/test-00000-of-00001.parquet");
        return files;
    }

    /// <summary>
    /// The hub cache folder: <c>$HF_HUB_CACHE</c>, else <c>$HF_HOME/hub</c>, else <c>~/.cache/huggingface/hub</c>
    /// (the hub client's own default).
    /// </summary>
    public static string DefaultHubCacheDir => HubSettings.DefaultCacheDir;

    /// <summary>
    /// The repository ids a dataset name may be cached under: <c>wikitext</c> moved to <c>Salesforce/wikitext</c>,
    /// and either name finds either folder.
    /// </summary>
    public static IReadOnlyList<string> RepositoryIds(string datasetName) =>
        datasetName is "wikitext" or "Salesforce/wikitext" ? ["Salesforce/wikitext", "wikitext"] : [datasetName];

    /// <summary>The cache folder name of a dataset repository: <c>datasets--Salesforce--wikitext</c>.</summary>
    public static string FolderName(string repositoryId) => "datasets--" + repositoryId.Replace("/", "--");

    /// <summary>
    /// Opens a cached dataset's splits. Unknown wikitext configs, and configs the cache lacks while it has others,
    /// are LM0308 errors listing the known ones; a dataset not in the cache at all is LM0310.
    /// </summary>
    public static DatasetSplits Resolve(string datasetName, string? configName, string? hubCacheDir = null, string? textColumn = null)
    {
        bool isWikitext = datasetName is "wikitext" or "Salesforce/wikitext";
        if (isWikitext && (configName is null || !WikitextConfigs.Contains(configName)))
            throw new LmException(ErrorCodes.UnknownDatasetConfig,
                (configName is null ? "dataset 'wikitext' needs a config" : $"unknown config '{configName}' for dataset 'wikitext'") +
                $"; the configs are: {string.Join(", ", WikitextConfigs)}");

        // The config names a folder in the snapshot: a flag's value, so it must be one plain name.
        if (configName is not null) SafePath.RequireName(configName, "--dataset-config-name");
        string hub = hubCacheDir ?? DefaultHubCacheDir;
        var cache = new HubCache(hub, HubRepoKind.Dataset);
        var configsSeen = new SortedSet<string>(StringComparer.Ordinal);
        foreach (string repositoryId in RepositoryIds(datasetName))
        {
            foreach (string snapshot in SnapshotsNewestFirst(cache, repositoryId))
            {
                string dataFolder = Path.Combine(snapshot, configName ?? "data");
                if (Directory.Exists(dataFolder))
                {
                    var splits = FromParquetFolder(dataFolder, textColumn);
                    if (splits.Train is not null || splits.Validation is not null) return splits;
                }
                foreach (string folder in Directory.EnumerateDirectories(snapshot))
                    configsSeen.Add(Path.GetFileName(folder));
            }
        }

        if (configsSeen.Count > 0)
            throw new LmException(ErrorCodes.UnknownDatasetConfig,
                $"dataset '{datasetName}' has no config '{configName}' in {hub}; the cached configs are: {string.Join(", ", configsSeen)}");
        throw new LmException(ErrorCodes.DatasetNotCached,
            $"dataset '{datasetName}' ({configName}) is not in the hub cache {hub}; download it first " +
            "(or set HF_HOME / HF_HUB_CACHE to the cache that has it)");
    }

    /// <summary>
    /// Opens the splits in one folder of parquet shards (<c>train-00000-of-00002.parquet</c>, ...), shards of a
    /// split read in name order as one source.
    /// </summary>
    public static DatasetSplits FromParquetFolder(string folder, string? textColumn = null)
    {
        TextSource? Split(string name)
        {
            var shards = Directory.EnumerateFiles(folder, name + "-*.parquet")
                .Order(StringComparer.Ordinal)
                .Select(path => (TextSource)new ParquetFileSource(path, textColumn))
                .ToList();
            return shards.Count switch { 0 => null, 1 => shards[0], _ => new ConcatenatedSource(shards) };
        }
        return new DatasetSplits(Split(SplitNames[0]), Split(SplitNames[1]), Split(SplitNames[2]));
    }

    /// <summary>
    /// The snapshot <c>refs/main</c> names first (its content must be a commit id, LM0521 otherwise: it becomes a
    /// folder name), then the others, newest first.
    /// </summary>
    private static IEnumerable<string> SnapshotsNewestFirst(HubCache cache, string repositoryId)
    {
        string snapshots = Path.Combine(cache.RepoFolder(repositoryId), "snapshots");
        if (!Directory.Exists(snapshots)) yield break;
        string? preferred = cache.ResolveCommit(repositoryId, "main") is { } commit ? cache.SnapshotFolder(repositoryId, commit) : null;
        if (preferred is not null && Directory.Exists(preferred)) yield return preferred;
        foreach (string snapshot in Directory.EnumerateDirectories(snapshots)
                     .OrderByDescending(Directory.GetLastWriteTimeUtc)
                     .ThenBy(s => s, StringComparer.Ordinal))
        {
            if (snapshot != preferred) yield return snapshot;
        }
    }

    private sealed class ConcatenatedSource(IReadOnlyList<TextSource> parts) : TextSource
    {
        public override string Name => string.Join(" + ", parts.Select(p => p.Name));

        public override string Identity => string.Join("+", parts.Select(p => p.Identity));

        public override IEnumerable<string> ReadRows() => parts.SelectMany(p => p.ReadRows());

        protected override long CountRowsCore() => parts.Sum(p => p.CountRows());
    }
}
