using System.Text.RegularExpressions;

namespace Lm.Tasks.Tests.Build;

/// <summary>The install instructions users read: the project ConsumerProjectTests builds is the one in the docs, at this version.</summary>
internal static class PackageDocs
{
    public static string Read(string relative) => File.ReadAllText(Path.Combine(RepoRoot.Path, relative)).Replace("\r\n", "\n");

    /// <summary>The project file of docs/msbuild.md's "Install from a feed".</summary>
    public static string ConsumerProject()
    {
        string docs = Read("docs/msbuild.md");
        string section = docs[docs.IndexOf("## Install from a feed", StringComparison.Ordinal)..];
        var block = Regex.Match(section, "```xml\n(<Project Sdk=.*?</Project>\n)```", RegexOptions.Singleline);
        Assert.True(block.Success, "docs/msbuild.md's Install from a feed has a project file");
        return block.Groups[1].Value;
    }

    /// <summary>The version the three packages are packed with (Directory.Build.props).</summary>
    public static string Version => Regex.Match(Read("Directory.Build.props"), "<Version>(.*?)</Version>").Groups[1].Value;
}

public sealed class PackageDocsTests
{
    [Fact]
    public void The_documented_consumer_project_is_the_same_in_every_readme_and_names_this_version()
    {
        string project = PackageDocs.ConsumerProject();
        Assert.Contains($"""<PackageReference Include="Lm.Build" Version="{PackageDocs.Version}" />""", project);
        Assert.Contains("""<PackageReference Include="libtorch-cpu-linux-x64" Version="2.10.0" />""", project);
        Assert.DoesNotContain("LmToolPath", project);
        // This repository's native-package switch and fixed RID are not needed outside it: the app's bin/ gets runtimes/<rid>/native/.
        Assert.DoesNotContain("LmUsesNativeTorch", project);
        Assert.DoesNotContain("RuntimeIdentifier", project);
        Assert.Contains(project, PackageDocs.Read("docs/packages/Lm.Build.md"));

        string readme = PackageDocs.Read("README.md");
        Assert.Contains($"""<PackageReference Include="Lm.Build" Version="{PackageDocs.Version}" />""", readme);
        foreach (string file in new[] { "README.md", "docs/msbuild.md", "docs/cli.md", "docs/packages/Lm.Build.md" })
        {
            string text = PackageDocs.Read(file);
            Assert.Contains("dotnet new tool-manifest", text);
            Assert.Contains($"dotnet tool install lm-tune --version {PackageDocs.Version}", text);
        }
    }

    [Fact]
    public void The_libtorch_version_in_the_docs_is_the_one_the_repository_builds_with()
    {
        string libtorch = Regex.Match(PackageDocs.Read("Directory.Packages.props"), "\"libtorch-cpu-linux-x64\" Version=\"(.*?)\"").Groups[1].Value;
        Assert.Equal("2.10.0", libtorch);
        Assert.Contains("libtorch-cpu-win-x64", PackageDocs.Read("docs/msbuild.md"));
        Assert.Contains("libtorch-cpu-osx-arm64", PackageDocs.Read("docs/msbuild.md"));
    }

    [Fact]
    public void The_build_package_needs_no_property_of_this_repository()
    {
        foreach (string file in Directory.GetFiles(Path.Combine(RepoRoot.Path, "src", "Lm.Tasks", "build")))
        {
            string text = File.ReadAllText(file);
            foreach (string property in new[] { "LmUsesNativeTorch", "LmRepoRoot", "RuntimeIdentifier" })
                Assert.False(text.Contains(property, StringComparison.Ordinal), $"{Path.GetFileName(file)} uses {property}");
        }
    }

    [Fact]
    public void Package_readmes_have_no_links_that_only_work_inside_the_repository()
    {
        foreach (string file in Directory.GetFiles(Path.Combine(RepoRoot.Path, "docs", "packages"), "*.md"))
        {
            string text = File.ReadAllText(file);
            // A package page shows the readme alone: a relative link ([x](docs/cli.md)) leads nowhere there.
            var relative = Regex.Matches(text, @"\]\((?!https://)[^)]*\)").Select(m => m.Value).ToList();
            Assert.True(relative.Count == 0, $"{Path.GetFileName(file)}: {string.Join(", ", relative)}");
            Assert.DoesNotContain("dotnet run --project src/", text);
        }
    }
}
