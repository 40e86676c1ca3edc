using Lm.Runtime.Data;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Tests.Data;

public class HubDatasetCacheTests
{
    private const string Revision = "b08601e04326c79dfdd32d625aee71d232d685c3";

    /// <summary>Lays out a hub cache as huggingface_hub does: refs/main names the snapshot holding the parquet files.</summary>
    private static async Task<string> WriteWikitextCache(ScratchFolder dir, string repositoryFolder = "datasets--Salesforce--wikitext")
    {
        string hub = Path.Combine(dir.Path, "hub");
        string repository = Path.Combine(hub, repositoryFolder);
        string config = Path.Combine(repository, "snapshots", Revision, "wikitext-2-raw-v1");
        Directory.CreateDirectory(config);
        Directory.CreateDirectory(Path.Combine(repository, "refs"));
        await File.WriteAllTextAsync(Path.Combine(repository, "refs", "main"), Revision);
        await ParquetFiles.Write(Path.Combine(config, "train-00000-of-00001.parquet"),
            ("text", [["", " = Valkyria Chronicles III = \n", "", " Senjō no Valkyria 3 : Unrecorded Chronicles \n"]]));
        await ParquetFiles.Write(Path.Combine(config, "validation-00000-of-00001.parquet"),
            ("text", [["", " = Homarus gammarus = \n"]]));
        await ParquetFiles.Write(Path.Combine(config, "test-00000-of-00001.parquet"),
            ("text", [["", " = Robert Boulter = \n"]]));
        return hub;
    }

    [Fact]
    public async Task Wikitext_splits_come_from_the_cached_parquet_files()
    {
        using var dir = new ScratchFolder();
        string hub = await WriteWikitextCache(dir);
        var splits = HubDatasetCache.Resolve("wikitext", "wikitext-2-raw-v1", hub);
        Assert.Equal(["", " = Valkyria Chronicles III = \n", "", " Senjō no Valkyria 3 : Unrecorded Chronicles \n"], splits.Train!.ReadRows());
        Assert.Equal(["", " = Homarus gammarus = \n"], splits.Validation!.ReadRows());
        Assert.Equal(["", " = Robert Boulter = \n"], splits.Test!.ReadRows());
    }

    [Fact]
    public async Task The_old_repository_name_is_found_too()
    {
        using var dir = new ScratchFolder();
        string hub = await WriteWikitextCache(dir, "datasets--wikitext");
        Assert.Equal(4, HubDatasetCache.Resolve("Salesforce/wikitext", "wikitext-2-raw-v1", hub).Train!.CountRows());
    }

    [Fact]
    public async Task Dataset_name_uses_the_dataset_validation_split_not_a_percentage()
    {
        using var dir = new ScratchFolder();
        string hub = await WriteWikitextCache(dir);
        var args = new DataArguments { DatasetName = "wikitext", DatasetConfigName = "wikitext-2-raw-v1", BlockSize = 4 };
        using var data = DataPipeline.Prepare(args, new CharEncoder(), DataObjective.Clm, hubCacheDir: hub, cacheRoot: dir.Path);
        Assert.Equal(4, data.Train!.Stats.Rows);
        Assert.Equal(2, data.Validation!.Stats.Rows);
        Assert.Equal(" = H".Select(CharEncoder.Id).ToArray(), data.Validation.GetIds(0));
    }

    [Fact]
    public void Unknown_wikitext_config_is_LM0308_listing_the_configs()
    {
        var e = Assert.Throws<LmException>(() => HubDatasetCache.Resolve("wikitext", "wikitext-3-raw-v1", "/nonexistent"));
        Assert.Equal(ErrorCodes.UnknownDatasetConfig, e.Code);
        Assert.Contains("wikitext-2-raw-v1", e.Message);
        Assert.Equal(ErrorCodes.UnknownDatasetConfig, Assert.Throws<LmException>(() => HubDatasetCache.Resolve("wikitext", null, "/nonexistent")).Code);
    }

    [Fact]
    public async Task A_config_missing_from_a_cached_dataset_is_LM0308_listing_what_is_cached()
    {
        using var dir = new ScratchFolder();
        string hub = await WriteWikitextCache(dir);
        var e = Assert.Throws<LmException>(() => HubDatasetCache.Resolve("wikitext", "wikitext-103-v1", hub));
        Assert.Equal(ErrorCodes.UnknownDatasetConfig, e.Code);
        Assert.Contains("wikitext-2-raw-v1", e.Message);
    }

    [Fact]
    public void A_dataset_not_in_the_cache_is_LM0310()
    {
        using var dir = new ScratchFolder();
        var e = Assert.Throws<LmException>(() => HubDatasetCache.Resolve("wikitext", "wikitext-2-v1", dir.Path));
        Assert.Equal(ErrorCodes.DatasetNotCached, e.Code);
        Assert.Contains(dir.Path, e.Message);
    }

    [Fact]
    public void Wikitext_files_name_the_parquet_shards_of_a_config()
    {
        Assert.Equal(
            ["wikitext-2-raw-v1/train-00000-of-00001.parquet", "wikitext-2-raw-v1/validation-00000-of-00001.parquet", "wikitext-2-raw-v1/test-00000-of-00001.parquet"],
            HubDatasetCache.WikitextFiles("wikitext-2-raw-v1"));
        Assert.Equal(4, HubDatasetCache.WikitextFiles("wikitext-103-v1").Count);
        Assert.Equal(ErrorCodes.UnknownDatasetConfig, Assert.Throws<LmException>(() => HubDatasetCache.WikitextFiles("wikitext-5")).Code);
    }

    [Fact]
    public void Hub_cache_folder_follows_the_hf_environment_variables()
    {
        string? hubCache = Environment.GetEnvironmentVariable("HF_HUB_CACHE");
        if (!string.IsNullOrEmpty(hubCache)) Assert.Equal(hubCache, HubDatasetCache.DefaultHubCacheDir);
        else Assert.EndsWith("hub", HubDatasetCache.DefaultHubCacheDir);
        Assert.Equal("datasets--Salesforce--wikitext", HubDatasetCache.FolderName("Salesforce/wikitext"));
    }
}
