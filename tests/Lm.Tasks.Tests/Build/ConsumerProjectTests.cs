using System.Globalization;
using System.IO.Compression;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Lm.Testing;
using Xunit.Abstractions;

namespace Lm.Tasks.Tests.Build;

/// <summary>
/// A project made as a newcomer would, outside the repository and from the packages alone: the three packages of
/// this checkout in a folder feed, lm-tune installed from it into a local tool manifest, one item, one attributed
/// class and the native libtorch package for this platform. `dotnet build` trains; `dotnet run` loads the
/// fine-tuned model through the generated accessor, evaluates it and generates text. Nothing of this repository's
/// MSBuild files applies (the folder is under the temp root) and no LmToolPath is set. NuGet is isolated: a private
/// packages folder and the folder feed as the only source, with the machine's package folder as a fallback (filled by
/// this repository's own restore), so the test runs offline.
/// </summary>
[Collection(BuildCollection.Name)]
[Trait("Category", "Slow")]
public sealed class ConsumerProjectTests(ITestOutputHelper output)
{
    // The app of the docs' "use the fine-tuned model" example, plus an evaluation of the loaded model on the job's
    // validation file through the engine's public data pipeline, the way lm-tune evaluates (HF's group_texts blocks,
    // batches of per_device_eval_batch_size).
    private const string Program = """
        using System.Globalization;
        using Lm.Runtime.Configuration;
        using Lm.Runtime.Data;
        using Lm.Runtime.Evaluation;
        using Lm.Runtime.Generation;

        using var model = WikiConfig.Artifacts.LoadModel();
        var tokenizer = WikiConfig.Artifacts.LoadTokenizer();

        var job = WikiConfig.CreateJob();
        var encoder = new LmTokenizerTextEncoder(tokenizer);
        using var data = DataPipeline.Prepare(job.Data, encoder, DataObjective.Clm, train: false, validation: true);
        var batches = new DatasetBatches(data.Validation!, DataPipeline.CreateCollator(job.Data, DataObjective.Clm, encoder, data.Options, job.Training.Seed));
        double evalLoss = new Evaluator(model, batches, job.Training.PerDeviceEvalBatchSize).Evaluate()["eval_loss"];
        Console.WriteLine("eval_loss " + evalLoss.ToString("R", CultureInfo.InvariantCulture));

        long[] prompt = tokenizer.Encode("The game").Select(id => (long)id).ToArray();
        var generated = TextGenerator.Generate(model, prompt, new GenerationOptions { MaxNewTokens = 8 });
        Console.WriteLine("generated " + string.Join(",", generated.NewTokenIds) + " " + tokenizer.Decode(generated.NewTokenIds.Select(id => (int)id).ToArray(), skipSpecialTokens: true));

        [FineTuneJob("wiki", Model = "tiny-gpt2")]
        [TextDataset(TrainFile = "train.txt", ValidationFile = "validation.txt", BlockSize = 32, MaxTrainSamples = 16, MaxEvalSamples = 4)]
        [Training(MaxSteps = 2, LearningRate = 0.01, PerDeviceTrainBatchSize = 4, PerDeviceEvalBatchSize = 2, SaveStrategy = "no", ReportTo = "none", LoggingSteps = 1)]
        public partial class WikiConfig
        {
        }
        """;

    [Fact]
    public void A_project_outside_the_repository_trains_in_its_build_and_its_app_loads_the_fine_tuned_model()
    {
        string configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;
        string work = Directory.CreateTempSubdirectory("lm-consumer-").FullName;
        try
        {
            string feed = Directory.CreateDirectory(Path.Combine(work, "feed")).FullName;
            string packages = Path.Combine(work, "packages");
            string app = Directory.CreateDirectory(Path.Combine(work, "app")).FullName;
            // Every command gets the private packages folder and a private CLI home: `dotnet tool run` resolves a local
            // tool through a cache in the CLI home (~/.dotnet/toolResolverCache) that keeps the path an earlier install
            // had, and a run of this test deletes its folders, so a shared cache would send the next run to a deleted tool.
            var dotnet = new DotnetCommand(app, output, new Dictionary<string, string>
            {
                ["NUGET_PACKAGES"] = packages,
                ["DOTNET_CLI_HOME"] = Directory.CreateDirectory(Path.Combine(work, "cli-home")).FullName,
            });
            // The packages as this checkout built them, at its one version (Directory.Build.props' Version). The tool's
            // pack builds what it packs (bin/pack/), every platform, once per test run: the pointer package and this
            // platform's are taken from it (the install fetches no other). The libraries are packed from the solution
            // build's outputs with their scratch files in this test's folder (RepositoryPack).
            foreach (string project in new[] { "Lm.Runtime", "Lm.Tasks" })
                dotnet.Succeed(RepositoryPack.Arguments(Path.Combine(RepoRoot.Path, "src", project), configuration, feed, Path.Combine(work, "pack"), "-v:q"));
            foreach (string package in Directory.GetFiles(ToolPackages.Feed, "lm-tune.*.nupkg").Where(f => !Regex.IsMatch(Path.GetFileName(f), @"^lm-tune\.(win|osx)-")))
                File.Copy(package, Path.Combine(feed, Path.GetFileName(package)));
            string version = PackageVersion(feed, "Lm.Build");
            Assert.Equal(version, PackageVersion(feed, "Lm.Runtime"));
            Assert.Equal(version, PackageVersion(feed, "lm-tune"));
            Assert.Equal(version, PackageVersion(feed, "lm-tune.linux-x64"));
            // Lm.Build depends on exactly its Lm.Runtime, for net10.0; each package shows its users' readme.
            var dependency = Nuspec(feed, "Lm.Build").Descendants().Single(e => e.Name.LocalName == "dependency");
            Assert.Equal(("Lm.Runtime", $"[{version}]", "net10.0"),
                ((string)dependency.Attribute("id")!, (string)dependency.Attribute("version")!, (string)dependency.Parent!.Attribute("targetFramework")!));
            // Lm.Runtime brings the managed TorchSharp only: native libtorch is the app's choice of platform package.
            var runtimeDependencies = Nuspec(feed, "Lm.Runtime").Descendants().Where(e => e.Name.LocalName == "dependency").Select(e => (string)e.Attribute("id")!).ToList();
            Assert.Contains("TorchSharp", runtimeDependencies);
            Assert.DoesNotContain(runtimeDependencies, id => id.StartsWith("libtorch", StringComparison.OrdinalIgnoreCase) || id.StartsWith("TorchSharp-", StringComparison.OrdinalIgnoreCase));
            // The tasks for both MSBuilds: the .NET SDK's and Visual Studio's (.NET Framework, with the metadata reader it lacks).
            using (var zip = ZipFile.OpenRead(PackageFile(feed, "Lm.Build")))
                Assert.Equal(["tasks/net10.0/Lm.Tasks.dll", "tasks/net472/Lm.Tasks.dll", "tasks/net472/System.Reflection.Metadata.dll"],
                    zip.Entries.Select(e => e.FullName).Where(n => n.StartsWith("tasks/", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
            foreach (var (id, readme) in new[] { ("Lm.Build", "Lm.Build.md"), ("Lm.Runtime", "Lm.Runtime.md"), ("lm-tune", "lm-tune.md") })
                Assert.Equal(PackageDocs.Read($"docs/packages/{readme}"), PackageEntry(feed, id, "README.md").Replace("\r\n", "\n"));

            string machinePackages = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <config><add key="globalPackagesFolder" value="{packages}" /></config>
                  <packageSources>
                    <clear />
                    <add key="local" value="{feed}" />
                  </packageSources>
                  <fallbackPackageFolders><add key="machine" value="{machinePackages}" /></fallbackPackageFolders>
                </configuration>
                """);
            string data = Path.Combine(RepoRoot.Path, "data", "wikitext-2-raw", "sample");
            File.Copy(Path.Combine(data, "train.txt"), Path.Combine(app, "train.txt"));
            File.Copy(Path.Combine(data, "validation.txt"), Path.Combine(app, "validation.txt"));
            File.WriteAllText(Path.Combine(app, "Program.cs"), Program);
            // docs/msbuild.md's "Install from a feed" project, as written there (PackageDocsTests keeps its version current).
            File.WriteAllText(Path.Combine(app, "app.csproj"), PackageDocs.ConsumerProject());

            dotnet.Succeed("new", "tool-manifest");
            dotnet.Succeed("tool", "install", "lm-tune", "--version", version, "--add-source", feed);
            // The tool and the packages came from this pack, not from an older copy in the machine's folder.
            Assert.True(File.Exists(Path.Combine(packages, "lm-tune.linux-x64", version, "lm-tune.linux-x64.nuspec")),
                $"lm-tune.linux-x64 {version} was not restored from the feed into {packages}: a copy in {machinePackages} shadows it; delete that copy");

            // docs/cli.md: the release, then the commit after '+'.
            Assert.StartsWith(version + "+", dotnet.Succeed("tool", "run", "lm-tune", "--version").Trim());

            var build = dotnet.Succeed("build", "-v:n");
            Assert.True(File.Exists(Path.Combine(packages, "lm.build", version, "tasks", "net10.0", "Lm.Tasks.dll")),
                $"Lm.Build {version} was not restored from the feed: a copy in {machinePackages} shadows it; delete that copy");
            // Found through the local tool manifest, checked to be the package's version, then run once.
            Assert.Contains("tool run lm-tune -- train --config", build);
            Assert.Contains("wiki: fine-tuned in", build);
            var results = JsonNode.Parse(File.ReadAllText(Path.Combine(app, "obj", "lm", "wiki", ".lm-complete")))!["results"]!;
            Assert.Equal(2, (int)results["global_step"]!);
            double buildEvalLoss = (double)results["eval_loss"]!;

            var run = dotnet.Succeed("run", "--no-build");
            var evalLine = Regex.Match(run, @"^eval_loss (\S+)$", RegexOptions.Multiline);
            Assert.True(evalLine.Success, run);
            double appEvalLoss = double.Parse(evalLine.Groups[1].Value, CultureInfo.InvariantCulture);
            // The same float32 loss lm-tune reported: the app ran the fine-tuned weights (two steps at lr 0.01 moved
            // the loss well away from the untrained model's, see trainer_state's first logged loss).
            Assert.Equal(buildEvalLoss, appEvalLoss, 5);
            double firstTrainLoss = FirstLoggedLoss(Path.Combine(app, "obj", "lm", "wiki", "trainer_state.json"));
            Assert.True(firstTrainLoss - buildEvalLoss > 0.05, $"first step loss {firstTrainLoss}, eval loss after training {buildEvalLoss}");
            var generated = Regex.Match(run, @"^generated (\d+(,\d+){7}) ", RegexOptions.Multiline);
            Assert.True(generated.Success, run);
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); } catch (IOException) { }
        }
    }

    private static string PackageFile(string feed, string id) =>
        Assert.Single(Directory.GetFiles(feed, id + ".*.nupkg"), f => Regex.IsMatch(Path.GetFileName(f), $@"^{Regex.Escape(id)}\.\d"));

    private static string PackageEntry(string feed, string id, string entry)
    {
        using var zip = ZipFile.OpenRead(PackageFile(feed, id));
        using var reader = new StreamReader(zip.GetEntry(entry)!.Open());
        return reader.ReadToEnd();
    }

    private static System.Xml.Linq.XDocument Nuspec(string feed, string id) => System.Xml.Linq.XDocument.Parse(PackageEntry(feed, id, id + ".nuspec"));

    private static string PackageVersion(string feed, string id) =>
        Nuspec(feed, id).Descendants().First(e => e.Name.LocalName == "version").Value;

    private static double FirstLoggedLoss(string trainerState)
    {
        var history = JsonNode.Parse(File.ReadAllText(trainerState))!["log_history"]!.AsArray();
        return history.Where(e => e!["loss"] is not null).Select(e => (double)e!["loss"]!).First();
    }
}
