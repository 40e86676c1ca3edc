namespace Lm.Tasks.Tests.Build;

/// <summary>
/// The tool's packages from this checkout, packed once per test run as a release packs them (docs/cli.md: every
/// platform, the pointer package `lm-tune` and `lm-tune.&lt;rid&gt;` each) and shared by the tests that install the tool
/// (ToolPackageTests, ConsumerProjectTests): the pack builds each platform and compresses its libtorch, minutes on
/// two cores, so it is done once. The folder is deleted when the test process exits.
/// </summary>
internal static class ToolPackages
{
    private static readonly Lazy<string> Packed = new(Pack, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The folder feed holding the packages (packed on first use).</summary>
    public static string Feed => Packed.Value;

    /// <summary>The configuration these tests were built in, which is what gets packed.</summary>
    public static string Configuration { get; } = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;

    /// <summary>How long the pack took, for the tests' logs.</summary>
    public static TimeSpan PackTime { get; private set; }

    private static string Pack()
    {
        string feed = Directory.CreateTempSubdirectory("lm-toolfeed-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(feed, recursive: true); } catch (IOException) { }
        };
        var clock = System.Diagnostics.Stopwatch.StartNew();
        new DotnetCommand(feed).Succeed("pack", Path.Combine(RepoRoot.Path, "src", "Lm.Tool"), "-c", Configuration, "-o", feed, "-v:m");
        PackTime = clock.Elapsed;
        return feed;
    }
}
