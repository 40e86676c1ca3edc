using System.Text.Json.Nodes;
using Lm.Runtime.Checkpoints;
using Lm.Runtime.Errors;
using Lm.Runtime.Tests.Checkpoints;
using Lm.Runtime.Tests.Data;
using Lm.Runtime.Training;

namespace Lm.Runtime.Tests.Training;

public class CheckpointManagerTests
{
    [Theory]
    [InlineData(2, null, new[] { 6, 8 })]
    [InlineData(2, 4, new[] { 4, 8 })]
    [InlineData(1, 4, new[] { 4, 8 })] // limit 1 with an older best keeps the newest too, so training can resume
    [InlineData(1, 8, new[] { 8 })]
    public void Rotation_deletes_the_oldest_and_never_the_best(int limit, int? best, int[] kept)
    {
        using var dir = new ScratchFolder();
        var manager = new CheckpointManager(dir.Path);
        foreach (int step in new[] { 2, 4, 6, 8 }) manager.Save(step, folder => File.WriteAllText(Path.Combine(folder, "model.safetensors"), "w"));

        manager.Rotate(limit, best is int b ? manager.FolderFor(b) : null);

        Assert.Equal(kept.Select(manager.FolderFor), manager.Sorted(null, out _));
    }

    [Fact]
    public void Saving_removes_a_temp_folder_left_by_a_killed_save_keeps_a_live_ones_and_marks_completion_last()
    {
        using var dir = new ScratchFolder();
        using var other = new OtherProcess();
        var manager = new CheckpointManager(dir.Path);
        string killed = Path.Combine(dir.Path, $".tmp-checkpoint-3-{int.MaxValue}-77");
        string killedModelStaging = Path.Combine(dir.Path, $"..tmp-checkpoint-3-{int.MaxValue}.saving-0123456789abcdef0123456789abcdef");
        string otherRun = Path.Combine(dir.Path, $".tmp-checkpoint-3-{other.Tag}");
        foreach (string folder in new[] { killed, killedModelStaging, otherRun }) Directory.CreateDirectory(folder);
        string? seenDuringWrite = null;

        string saved = manager.Save(3, temp =>
        {
            seenDuringWrite = temp;
            Assert.False(Directory.Exists(manager.FolderFor(3)));
            File.WriteAllText(Path.Combine(temp, "model.safetensors"), "weights");
            File.WriteAllText(Path.Combine(temp, "trainer_state.json"), "{}");
        });

        Assert.Equal(manager.FolderFor(3), saved);
        Assert.True(CheckpointManager.IsComplete(saved));
        Assert.False(Directory.Exists(seenDuringWrite));
        Assert.Equal([otherRun], Directory.GetDirectories(dir.Path, ".*"));
        var marker = JsonNode.Parse(File.ReadAllText(Path.Combine(saved, CheckpointManager.CompletionMarker)))!;
        Assert.Equal(3, marker["global_step"]!.GetValue<int>());
        Assert.Equal("""{"model.safetensors":7,"trainer_state.json":2}""", marker["files"]!.ToJsonString());
    }

    [Fact]
    public void A_save_that_fails_leaves_no_temp_folder()
    {
        using var dir = new ScratchFolder();
        var manager = new CheckpointManager(dir.Path);

        Assert.Throws<IOException>(() => manager.Save(4, temp =>
        {
            File.WriteAllText(Path.Combine(temp, "model.safetensors"), "w");
            throw new IOException("disk full");
        }));

        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.Path));
    }

    [Fact]
    public void A_checkpoint_whose_files_differ_from_the_marker_is_incomplete_and_last_picks_the_previous_one()
    {
        using var dir = new ScratchFolder();
        var manager = new CheckpointManager(dir.Path);
        foreach (int step in new[] { 2, 4, 6 })
            manager.Save(step, folder => File.WriteAllText(Path.Combine(folder, "model.safetensors"), "weights"));
        // After the save: a file cut short (a disk that lost the tail) and a file gone.
        File.WriteAllText(Path.Combine(manager.FolderFor(6), "model.safetensors"), "wei");
        File.Delete(Path.Combine(manager.FolderFor(4), "model.safetensors"));

        Assert.False(CheckpointManager.IsComplete(manager.FolderFor(6)));
        Assert.Equal(manager.FolderFor(2), CheckpointManager.LastComplete(dir.Path, out var skipped));
        Assert.Equal([manager.FolderFor(4), manager.FolderFor(6)], skipped.Select(s => s.Path));
        Assert.Contains("'model.safetensors' listed in its checkpoint_complete.json is missing", skipped[0].Reason);
        Assert.Contains("'model.safetensors' has 3 bytes but its checkpoint_complete.json records 7", skipped[1].Reason);
        Assert.Equal(manager.FolderFor(2), manager.Resolve("last", out var warned));
        Assert.Equal(2, warned.Count);
        var error = Assert.Throws<LmException>(() => manager.Resolve(manager.FolderFor(6), out _));
        Assert.Equal(ErrorCodes.CheckpointInvalid, error.Code);
        Assert.Contains("has 3 bytes but its checkpoint_complete.json records 7", error.Message);
    }

    [Theory]
    [InlineData("{")]
    [InlineData("[]")]
    [InlineData("""{"global_step": 2}""")]
    [InlineData("""{"files": {"model.safetensors": "7"}}""")]
    [InlineData("""{"files": {"../model.safetensors": 7}}""")]
    public void A_marker_that_is_not_what_a_save_writes_makes_the_checkpoint_incomplete(string marker)
    {
        using var dir = new ScratchFolder();
        var manager = new CheckpointManager(dir.Path);
        manager.Save(2, folder => File.WriteAllText(Path.Combine(folder, "model.safetensors"), "weights"));
        File.WriteAllText(Path.Combine(manager.FolderFor(2), CheckpointManager.CompletionMarker), marker);

        Assert.False(CheckpointManager.IsComplete(manager.FolderFor(2)));
        Assert.Null(CheckpointManager.LastComplete(dir.Path, out var skipped));
        Assert.Single(skipped);
    }

    [Fact]
    public void Folder_names_that_are_not_a_step_number_are_ignored()
    {
        using var dir = new ScratchFolder();
        var manager = new CheckpointManager(dir.Path);
        manager.Save(2, folder => File.WriteAllText(Path.Combine(folder, "model.safetensors"), "w"));
        foreach (string name in new[] { "checkpoint-99999999999999999999", "checkpoint-2147483648", "checkpoint--4", "checkpoint-1e3", "checkpoint-", "checkpoint-٣" })
        {
            // Each a copy of a complete checkpoint: only the name is wrong.
            Directory.CreateDirectory(Path.Combine(dir.Path, name));
            foreach (string file in Directory.GetFiles(manager.FolderFor(2)))
                File.Copy(file, Path.Combine(dir.Path, name, Path.GetFileName(file)));
        }

        Assert.Equal(manager.FolderFor(2), CheckpointManager.LastComplete(dir.Path, out var skipped));
        Assert.Empty(skipped);
        Assert.Equal([manager.FolderFor(2)], manager.Sorted(null, out var incomplete));
        Assert.Empty(incomplete);
        Assert.Empty(manager.Rotate(1, null));
    }

    [Fact]
    public void Resolving_last_without_a_complete_checkpoint_is_LM0411()
    {
        using var dir = new ScratchFolder();
        Directory.CreateDirectory(Path.Combine(dir.Path, "checkpoint-5"));

        var error = Assert.Throws<LmException>(() => new CheckpointManager(dir.Path).Resolve("last", out _));

        Assert.Equal(ErrorCodes.CheckpointNotFound, error.Code);
        Assert.Contains("checkpoint-5", error.Message);
    }
}
