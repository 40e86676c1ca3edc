using System.Text.Json.Nodes;
using Lm.Testing;
using Xunit.Abstractions;

namespace Lm.Tasks.Tests.Build;

/// <summary>The Lm.Build package, packed from this checkout into a folder feed and used by a project outside the repository.</summary>
[Collection(BuildCollection.Name)]
[Trait("Category", "Build")]
public sealed class PackageTests(ITestOutputHelper output)
{
    private const string Program = """
        using Lm.Runtime.Configuration;

        System.Console.WriteLine($"model folder: {WikiConfig.Artifacts.ModelDirectory}; trained: {WikiConfig.Artifacts.IsTrained}");

        [FineTuneJob("wiki", Model = "tiny-gpt2")]
        [Training(MaxSteps = 3, LearningRate = 0.001)]
        public partial class WikiConfig
        {
        }
        """;

    [Fact]
    public void Consumer_restores_the_package_from_a_folder_feed_and_builds_with_and_without_training()
    {
        // The configuration these tests were built in; its outputs are what gets packed.
        string configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;
        string version = "0.1.0-test" + DateTime.UtcNow.ToString("yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture);
        using var project = new TempProject(
            """<LanguageModelFineTune Include="wiki" TrainFile="train.txt" BlockSize="16" CopyToOutputDirectory="PreserveNewest" />""",
            packageReference: $"""<PackageReference Include="Lm.Build" Version="{version}" />""",
            program: Program);
        string feed = Directory.CreateDirectory(project.PathOf("feed")).FullName;
        foreach (string packed in new[] { "Lm.Runtime", "Lm.Tasks" })
        {
            var pack = project.Dotnet(RepositoryPack.Arguments(Path.Combine(RepoRoot.Path, "src", packed), configuration, feed,
                project.PathOf("pack"), $"-p:Version={version}", "-v:m"));
            Assert.True(pack.ExitCode == 0, pack.ToString());
        }
        // A fresh packages folder, so the test sees this pack and not a cached one; the user's folder (filled by the
        // repository's own restore) serves the rest. The folder feed is the only source: the test needs no network.
        string userPackages = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        File.WriteAllText(project.PathOf("nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config><add key="globalPackagesFolder" value="{project.PathOf("packages")}" /></config>
              <packageSources>
                <clear />
                <add key="local" value="{feed}" />
              </packageSources>
              <fallbackPackageFolders><add key="user" value="{userPackages}" /></fallbackPackageFolders>
            </configuration>
            """);

        var skipped = project.Build("-v:m", "-p:LmSkipFineTune=true");
        Assert.True(skipped.ExitCode == 0, skipped.ToString());
        Assert.Equal(0, project.ToolRuns);
        Assert.True(File.Exists(project.PathOf($"packages/lm.build/{version}/tasks/net10.0/Lm.Tasks.dll")));

        var trained = project.Build("--no-restore", "-v:n");
        output.WriteLine(trained.Output);
        Assert.True(trained.ExitCode == 0, trained.ToString());
        Assert.Equal(1, project.ToolRuns);
        // The class's values came from the compiled assembly (the package's generator), the item's from its metadata.
        var job = JsonNode.Parse(File.ReadAllText(project.PathOf("obj/lm/wiki.job.json")))!;
        Assert.Equal("tiny-gpt2", (string?)job["model_name_or_path"]);
        Assert.Equal(3, (int)job["max_steps"]!);
        Assert.Equal(16, (int)job["block_size"]!);

        var run = project.Dotnet(["run", "--no-build"]);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains($"model folder: {project.PathOf("bin/Debug/net10.0/wiki")}; trained: True", run.Output);
    }
}
