namespace Lm.Tool.Tests;

/// <summary><c>lm-tune train --print-cache-key</c>: the content-addressed key of a job, for CI scripts; nothing is trained.</summary>
public sealed class CacheKeyTests
{
    private static string Key(string project)
    {
        var result = LmTuneProcess.Run(["train", "--config", "job.json", "--print-cache-key", "--json"], workingDirectory: project);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.False(Directory.Exists(Path.Combine(project, "out")));
        return result.Json["cache_key"]!.GetValue<string>();
    }

    private static void WriteProject(string folder)
    {
        Directory.CreateDirectory(folder);
        File.Copy(TinyModels.TrainFile, Path.Combine(folder, "train.txt"));
        File.WriteAllText(Path.Combine(folder, "job.json"),
            $$"""{"model_name_or_path": "tiny-gpt2", "train_file": "{{Path.Combine(folder, "train.txt")}}", "output_dir": "{{Path.Combine(folder, "out")}}", "save_total_limit": 1}""");
    }

    [Fact]
    public void Same_job_and_data_in_another_folder_has_the_same_key_and_one_changed_byte_another()
    {
        using var temp = new TempFolder();
        WriteProject(temp["a"]);
        WriteProject(temp["b"]);
        File.SetLastWriteTimeUtc(temp["b/train.txt"], DateTime.UtcNow.AddDays(2));

        string key = Key(temp["a"]);
        Assert.Matches("^[0-9a-f]{64}$", key);
        Assert.Equal(key, Key(temp["b"]));

        byte[] bytes = File.ReadAllBytes(temp["b/train.txt"]);
        bytes[100] ^= 1;
        File.WriteAllBytes(temp["b/train.txt"], bytes);
        Assert.NotEqual(key, Key(temp["b"]));
    }
}
