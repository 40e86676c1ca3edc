using Lm.Runtime.Checkpoints;
using Lm.Runtime.Tests.Data;

namespace Lm.Runtime.Tests.Checkpoints;

public class StagingFoldersTests
{
    // No process has this id (pid_max is at most 2^22 on Linux): what a killed run's id stands for.
    private const int GoneProcess = int.MaxValue;

    private const string Guid32 = "0123456789abcdef0123456789abcdef";

    [Fact]
    public void Only_staging_of_gone_processes_is_removed()
    {
        Assert.True(OperatingSystem.IsLinux(), "the test reads /proc");
        using var dir = new ScratchFolder();
        using var other = new OtherProcess();
        long? ownStart = ProcessIdentity.StartTicksOf(Environment.ProcessId);
        Assert.Equal(ownStart, ProcessIdentity.Current.StartTicks);

        string[] stale =
        [
            $".tmp-checkpoint-3-{GoneProcess}",                          // earlier versions: id only
            $".tmp-checkpoint-4-{GoneProcess}-123",
            $".tmp-checkpoint-5-{other.Id}-{other.StartTicks + 1}",      // the id now belongs to a later process
            $".tmp-checkpoint-6-{GoneProcess}-123-old",
            $".lm-saving-{GoneProcess}-123-{Guid32}",
            $"..tmp-checkpoint-7-{GoneProcess}.saving-{Guid32}",         // a model save staged by earlier versions
        ];
        string[] live =
        [
            $".tmp-checkpoint-8-{other.Tag}",
            $".lm-saving-{other.Tag}-{Guid32}",
            $".tmp-checkpoint-9-{ProcessIdentity.Current.Tag}",
            $".tmp-checkpoint-10-{other.Id}",
        ];
        string[] notOurs = [".tmp-checkpoint-x", ".lm-saving-notes", ".git", "checkpoint-2", ".tmp-checkpoint-3"];
        foreach (string name in stale.Concat(live).Concat(notOurs)) Directory.CreateDirectory(Path.Combine(dir.Path, name));
        File.WriteAllText(Path.Combine(dir.Path, $".trainer_state.json.lm-{GoneProcess}-1.tmp"), "{");
        File.WriteAllText(Path.Combine(dir.Path, $".all_results.json.lm-{other.Tag}.tmp"), "{");
        File.WriteAllText(Path.Combine(dir.Path, ".user-notes.tmp"), "mine");

        var removed = StagingFolders.RemoveStale(dir.Path);

        Assert.Equal(
            stale.Append($".trainer_state.json.lm-{GoneProcess}-1.tmp").Order(StringComparer.Ordinal),
            removed.Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(
            live.Concat(notOurs).Append($".all_results.json.lm-{other.Tag}.tmp").Append(".user-notes.tmp").Order(StringComparer.Ordinal),
            Directory.EnumerateFileSystemEntries(dir.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.True(other.IsRunning);
    }

    [Fact]
    public void A_process_is_alive_only_with_its_own_start_time()
    {
        using var other = new OtherProcess();
        Assert.True(ProcessIdentity.IsAlive(other.Id, other.StartTicks));
        Assert.True(ProcessIdentity.IsAlive(other.Id, null));
        Assert.False(ProcessIdentity.IsAlive(other.Id, other.StartTicks - 1));
        Assert.False(ProcessIdentity.IsAlive(GoneProcess, null));
        other.Dispose();
        Assert.False(ProcessIdentity.IsAlive(other.Id, other.StartTicks));
    }

    [Fact]
    public void Flushing_a_file_and_a_folder_keeps_their_content()
    {
        using var dir = new ScratchFolder();
        string file = Path.Combine(dir.Path, "a.json");
        File.WriteAllText(file, "{\"x\": 1}");

        DurableFiles.Flush(file);
        DurableFiles.FlushTree(dir.Path);

        Assert.Equal("{\"x\": 1}", File.ReadAllText(file));
        Assert.Throws<IOException>(() => DurableFiles.Flush(Path.Combine(dir.Path, "missing")));
    }
}
