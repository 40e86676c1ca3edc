using System.Security.Cryptography;
using System.Text;
using Lm.Runtime.Jobs;

namespace Lm.Runtime.Tests.Jobs;

public class JobCacheKeyTests
{
    private static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private static string Project(string text)
    {
        string folder = Directory.CreateTempSubdirectory("lm-key-").FullName;
        File.WriteAllText(Path.Combine(folder, "train.txt"), text);
        return folder;
    }

    private static string Job(string project) =>
        $$"""{"model_name_or_path": "tiny-gpt2", "train_file": "{{Path.Combine(project, "train.txt")}}", "learning_rate": 0.0001, "output_dir": "{{Path.Combine(project, "obj", "lm", "job1")}}"}""";

    [Fact]
    public void Key_is_the_sha256_of_the_job_with_project_relative_paths_the_data_contents_and_the_tool_version()
    {
        string project = Project("The tower is 324 metres tall.\n");
        var lines = JobCacheKey.Lines(Job(project), project, "1.2.3", new ContentHashes(null));

        string dataSha = Sha256(Encoding.UTF8.GetBytes("The tower is 324 metres tall.\n"));
        string[] expected =
        [
            "lm-tune-cache-key 1",
            "tool 1.2.3",
            """job {"learning_rate":0.0001,"model_name_or_path":"tiny-gpt2","output_dir":"<project>/obj/lm/job1","train_file":"<project>/train.txt"}""",
            $"file train_file <project>/train.txt {dataSha}",
        ];
        Assert.Equal(expected, lines);
        Assert.Equal(Sha256(Encoding.UTF8.GetBytes(string.Join("\n", expected) + "\n")), JobCacheKey.Compute(lines));
        Directory.Delete(project, recursive: true);
    }

    [Fact]
    public void A_clone_elsewhere_with_new_times_has_the_same_key_and_one_changed_byte_another()
    {
        string a = Project("The tower is 324 metres tall.\n"), b = Project("The tower is 324 metres tall.\n");
        File.SetLastWriteTimeUtc(Path.Combine(b, "train.txt"), DateTime.UtcNow.AddDays(3));
        string Key(string project, string version = "1.2.3") => JobCacheKey.Compute(JobCacheKey.Lines(Job(project), project, version, new ContentHashes(null)));

        Assert.Equal(Key(a), Key(b));
        Assert.NotEqual(Key(a), Key(a, "1.2.4"));
        File.WriteAllText(Path.Combine(b, "train.txt"), "The tower is 325 metres tall.\n");
        Assert.NotEqual(Key(a), Key(b));
        Directory.Delete(a, recursive: true);
        Directory.Delete(b, recursive: true);
    }

    [Fact]
    public void Content_hashes_are_remembered_by_size_and_time()
    {
        string project = Project("abc");
        string file = Path.Combine(project, "train.txt"), cache = Path.Combine(project, "hashes.json");
        var hashes = new ContentHashes(cache);
        Assert.Equal(Sha256("abc"u8.ToArray()), hashes.Sha256(file));
        hashes.Save();

        // Same size and time: the remembered hash is used without reading the file (a different content proves it).
        var time = File.GetLastWriteTimeUtc(file);
        File.WriteAllText(file, "xyz");
        File.SetLastWriteTimeUtc(file, time);
        Assert.Equal(Sha256("abc"u8.ToArray()), new ContentHashes(cache).Sha256(file));
        // Another time: read again.
        File.SetLastWriteTimeUtc(file, time.AddSeconds(5));
        Assert.Equal(Sha256("xyz"u8.ToArray()), new ContentHashes(cache).Sha256(file));
        Directory.Delete(project, recursive: true);
    }

    [Fact]
    public void A_hub_model_is_keyed_by_the_commit_its_revision_resolved_to_in_the_hub_cache()
    {
        string project = Project("x");
        string cache = Path.Combine(project, "hub");
        string commit = new('a', 40);
        Directory.CreateDirectory(Path.Combine(cache, "models--org--name", "refs"));
        File.WriteAllText(Path.Combine(cache, "models--org--name", "refs", "main"), commit);
        var job = (System.Text.Json.Nodes.JsonObject)System.Text.Json.Nodes.JsonNode.Parse($$"""{"model_name_or_path": "org/name", "cache_dir": "{{cache}}"}""")!;

        Assert.Equal(commit, JobCacheKey.HubCommit(job, "org/name", project, pinnedCommit: null));
        job["model_revision"] = new string('b', 40);
        Assert.Equal(new string('b', 40), JobCacheKey.HubCommit(job, "org/name", project, pinnedCommit: null));
        job["model_revision"] = "dev";
        Assert.Equal("pinned", JobCacheKey.HubCommit(job, "org/name", project, pinnedCommit: "pinned"));
        Assert.Null(JobCacheKey.HubCommit(job, "tiny-gpt2", project, pinnedCommit: null));
        Directory.Delete(project, recursive: true);
    }
}
