using Lm.Runtime.Errors;
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
    public void Saving_replaces_a_temp_folder_left_by_a_killed_save_and_marks_completion_last()
    {
        using var dir = new ScratchFolder();
        var manager = new CheckpointManager(dir.Path);
        Directory.CreateDirectory(Path.Combine(dir.Path, ".tmp-checkpoint-3-4242"));
        string? seenDuringWrite = null;

        string folder = manager.Save(3, temp =>
        {
            seenDuringWrite = temp;
            Assert.False(Directory.Exists(manager.FolderFor(3)));
            File.WriteAllText(Path.Combine(temp, "model.safetensors"), "w");
        });

        Assert.Equal(manager.FolderFor(3), folder);
        Assert.True(CheckpointManager.IsComplete(folder));
        Assert.False(Directory.Exists(seenDuringWrite));
        Assert.Empty(Directory.GetDirectories(dir.Path, ".tmp-*"));
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
