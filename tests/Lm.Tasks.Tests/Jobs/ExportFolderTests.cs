using Lm.Tasks.Jobs;

namespace Lm.Tasks.Tests.Jobs;

/// <summary>A re-export (or <c>dotnet clean</c>) removes exactly what the previous export wrote.</summary>
public sealed class ExportFolderTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("lm-exportfolder-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Listed_files_go_but_not_through_a_linked_folder_nor_a_folder_the_user_made()
    {
        string data = Directory.CreateDirectory(Path.Combine(_root, "data")).FullName;
        File.WriteAllText(Path.Combine(data, "train.txt"), "the user's data\n");
        string export = Directory.CreateDirectory(Path.Combine(_root, "export")).FullName;
        File.WriteAllText(Path.Combine(export, "launch.sh"), "#!/bin/sh\n");
        Directory.CreateDirectory(Path.Combine(export, "scripts"));
        File.WriteAllText(Path.Combine(export, "scripts", "train.py"), "print()\n");
        Directory.CreateSymbolicLink(Path.Combine(export, "inputs"), data);
        Directory.CreateDirectory(Path.Combine(export, "mine"));
        string stamp = Path.Combine(export, ".lm-complete");
        File.WriteAllText(stamp, """{"results":{"files":["launch.sh","scripts/train.py","inputs/train.txt","../data/train.txt"]}}""");

        Assert.True(ExportFolder.RemovePreviousExport(export, stamp));

        Assert.Equal("the user's data\n", File.ReadAllText(Path.Combine(data, "train.txt")));
        Assert.Equal(["inputs", "mine"], Directory.EnumerateFileSystemEntries(export).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void A_folder_with_files_but_no_stamp_is_left_untouched()
    {
        string export = Directory.CreateDirectory(Path.Combine(_root, "export")).FullName;
        File.WriteAllText(Path.Combine(export, "notes.txt"), "mine\n");
        Assert.False(ExportFolder.RemovePreviousExport(export, Path.Combine(export, ".lm-complete")));
        Assert.Equal("mine\n", File.ReadAllText(Path.Combine(export, "notes.txt")));
    }

    [Fact]
    public void An_export_folder_emptied_of_what_the_build_wrote_is_removed()
    {
        string export = Directory.CreateDirectory(Path.Combine(_root, "export")).FullName;
        File.WriteAllText(Path.Combine(export, "launch.sh"), "#!/bin/sh\n");
        string stamp = Path.Combine(export, ".lm-complete");
        File.WriteAllText(stamp, """{"results":{"files":["launch.sh"]}}""");
        Assert.True(ExportFolder.RemovePreviousExport(export, stamp));
        Assert.False(Directory.Exists(export));
    }
}
