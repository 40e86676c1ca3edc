using Lm.Runtime.Jobs;

namespace Lm.Tasks.Tests.Jobs;

public sealed class OutputFolderMarkerTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("lm-marker-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string PathOf(string name) => Path.Combine(_root, name);

    [Fact]
    public void A_folder_is_owned_only_by_the_job_and_path_its_marker_names()
    {
        string project = PathOf("app"), output = PathOf("out");
        OutputFolderMarker.Write(output, project, "job1", "0.1.0");
        File.WriteAllText(Path.Combine(output, "model.safetensors"), "w");

        Assert.Equal(OutputFolderMarker.Ownership.Owned, OutputFolderMarker.Check(output, project, "job1"));
        Assert.Equal(OutputFolderMarker.Ownership.Owned, OutputFolderMarker.Check(output + "/", project + "/", "job1"));
        Assert.Equal(OutputFolderMarker.Ownership.Foreign, OutputFolderMarker.Check(output, project, "job2"));
        Assert.Equal(OutputFolderMarker.Ownership.Foreign, OutputFolderMarker.Check(output, PathOf("other-app"), "job1"));

        // A copy (or a move) of an output folder is not the folder lm-tune created.
        string copy = PathOf("copy");
        Directory.CreateDirectory(copy);
        foreach (string file in Directory.GetFiles(output, "*", new EnumerationOptions { AttributesToSkip = 0 }))
            File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        Assert.True(File.Exists(Path.Combine(copy, OutputFolderMarker.FileName)));
        Assert.Equal(OutputFolderMarker.Ownership.Foreign, OutputFolderMarker.Check(copy, project, "job1"));
    }

    [Fact]
    public void Missing_empty_marker_only_files_links_and_broken_markers_are_told_apart()
    {
        string project = PathOf("app");
        Assert.Equal(OutputFolderMarker.Ownership.Missing, OutputFolderMarker.Check(PathOf("none"), project, "job1"));

        Directory.CreateDirectory(PathOf("empty"));
        Assert.Equal(OutputFolderMarker.Ownership.Empty, OutputFolderMarker.Check(PathOf("empty"), project, "job1"));

        // Only another job's marker: nothing in it to lose.
        OutputFolderMarker.Write(PathOf("marker-only"), project, "job2", "0.1.0");
        Assert.Equal(OutputFolderMarker.Ownership.Empty, OutputFolderMarker.Check(PathOf("marker-only"), project, "job1"));

        File.WriteAllText(PathOf("a-file"), "x");
        Assert.Equal(OutputFolderMarker.Ownership.Foreign, OutputFolderMarker.Check(PathOf("a-file"), project, "job1"));

        OutputFolderMarker.Write(PathOf("target"), project, "job1", "0.1.0");
        File.WriteAllText(Path.Combine(PathOf("target"), "keep.txt"), "x");
        Directory.CreateSymbolicLink(PathOf("link"), PathOf("target"));
        Assert.Equal(OutputFolderMarker.Ownership.Foreign, OutputFolderMarker.Check(PathOf("link"), project, "job1"));

        foreach (string broken in new[] { "{", "[]", """{"created_by": "lm-tune", "job": 1}""" })
        {
            File.WriteAllText(Path.Combine(PathOf("target"), OutputFolderMarker.FileName), broken);
            Assert.Equal(OutputFolderMarker.Ownership.Foreign, OutputFolderMarker.Check(PathOf("target"), project, "job1"));
        }
    }
}
