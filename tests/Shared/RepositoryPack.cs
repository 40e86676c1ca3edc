namespace Lm.Testing;

/// <summary>
/// <c>dotnet pack</c> of one of the repository's projects as the solution build left it. Tests pack src/ projects while
/// other test projects run those projects' outputs (and another pack of the same project may run in a parallel test
/// project), so a pack writes its scratch files into the test's own folder: by default the tool package publishes
/// into src/Lm.Tool/bin/…/publish/ and every package writes its .nuspec into src/*/obj/, and two packs of lm-tune at
/// once then overwrote each other's files. Restore is not run again: it could rewrite src/*/obj/project.assets.json. What is still written
/// there is the tool's list of published files, under a name made from the publish folder's path (one per test
/// folder, so no two packs share it).
/// </summary>
internal static class RepositoryPack
{
    /// <param name="project">The project (folder or .csproj) to pack.</param>
    /// <param name="configuration">The configuration the tests were built in: its outputs are what gets packed.</param>
    /// <param name="feed">Where the .nupkg goes.</param>
    /// <param name="scratch">A folder of the test for the publish folder and the generated .nuspec.</param>
    /// <param name="extra">More arguments (a version, a verbosity).</param>
    public static string[] Arguments(string project, string configuration, string feed, string scratch, params string[] extra) =>
    [
        "pack", project, "--no-build", "--no-restore", "-c", configuration, "-o", feed,
        $"-p:PublishDir={Path.Combine(scratch, "publish")}{Path.DirectorySeparatorChar}",
        $"-p:NuspecOutputPath={Path.Combine(scratch, "nuspec")}{Path.DirectorySeparatorChar}",
        // Packing the tasks resolves the net472 build's references again, which rewrote its obj/ cache of them.
        "-p:DisableRarCache=true",
        .. extra,
    ];
}
