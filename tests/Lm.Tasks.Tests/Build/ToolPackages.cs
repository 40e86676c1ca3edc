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

    private const string Prefix = "lm-toolfeed-";

    private static string Pack()
    {
        // The test host may be stopped before its exit handler has deleted ~270 MB: a later run removes what a
        // finished process left.
        foreach (string stale in Directory.GetDirectories(Path.GetTempPath(), Prefix + "*"))
        {
            if (int.TryParse(Path.GetFileName(stale)[Prefix.Length..], out int pid) && !Running(pid))
                try { Directory.Delete(stale, recursive: true); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        string feed = Path.Combine(Path.GetTempPath(), Prefix + Environment.ProcessId);
        if (Directory.Exists(feed)) Directory.Delete(feed, recursive: true); // an earlier process with this id
        Directory.CreateDirectory(feed);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(feed, recursive: true); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        };
        var clock = System.Diagnostics.Stopwatch.StartNew();
        new DotnetCommand(feed).Succeed("pack", Path.Combine(RepoRoot.Path, "src", "Lm.Tool"), "-c", Configuration, "-o", feed, "-v:m");
        PackTime = clock.Elapsed;
        return feed;
    }

    private static bool Running(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
