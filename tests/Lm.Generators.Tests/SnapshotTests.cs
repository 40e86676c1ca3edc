using Xunit.Sdk;

namespace Lm.Generators.Tests;

/// <summary>Accepting snapshots can change the checked-in files but never make the accepting run, or CI, pass.</summary>
public sealed class SnapshotTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("lm-snapshots-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string Verified => Path.Combine(_folder, "Sample.verified.cs");

    private string Received => Path.Combine(_folder, "Sample.received.cs");

    [Fact]
    public void Accepting_a_changed_snapshot_writes_it_and_still_fails()
    {
        File.WriteAllText(Verified, "old\n");

        var failure = Assert.ThrowsAny<XunitException>(() => Snapshot.Match("new\n", "Sample", _folder, accept: true, ci: false));

        Assert.Contains("accepted a changed snapshot", failure.Message);
        Assert.Equal("new\n", File.ReadAllText(Verified));
        Assert.False(File.Exists(Received));
        Snapshot.Match("new\n", "Sample", _folder, accept: false, ci: false); // the next run, without the variable, passes
    }

    [Fact]
    public void Accepting_is_refused_in_CI()
    {
        File.WriteAllText(Verified, "old\n");

        var failure = Assert.ThrowsAny<XunitException>(() => Snapshot.Match("new\n", "Sample", _folder, accept: true, ci: true));

        Assert.Contains("ignored because CI is set", failure.Message);
        Assert.Equal("old\n", File.ReadAllText(Verified));
        Assert.Equal("new\n", File.ReadAllText(Received));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void An_unchanged_snapshot_passes_with_or_without_accepting(bool accept, bool ci)
    {
        File.WriteAllText(Verified, "same\n");
        File.WriteAllText(Received, "stale\n");

        Snapshot.Match("same\r\n", "Sample", _folder, accept, ci);

        Assert.False(File.Exists(Received));
    }
}
