using Lm.Tasks.Tooling;

namespace Lm.Tasks.Tests.Tooling;

/// <summary>Where the build finds lm-tune when LmToolPath is empty: the local tool manifest first, as the dotnet CLI reads it.</summary>
public sealed class ToolCommandTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("lm-toolcommand-").FullName;

    private const string ManifestWithTool = """
        {
          "version": 1,
          "isRoot": true,
          "tools": { "lm-tune": { "version": "0.1.0", "commands": [ "lm-tune" ], "rollForward": false } }
        }
        """;

    [Fact]
    public void A_manifest_in_a_parent_folder_that_lists_lm_tune_runs_it_with_dotnet_tool_run()
    {
        string project = Directory.CreateDirectory(Path.Combine(_root, "src", "app")).FullName;
        File.WriteAllText(Path.Combine(_root, "dotnet-tools.json"), ManifestWithTool);

        var tool = ToolCommand.Locate(toolPath: "", project)!;

        Assert.EndsWith("dotnet", Path.GetFileNameWithoutExtension(tool.Executable));
        Assert.Equal(["tool", "run", "lm-tune", "--"], tool.PrefixArguments);
        Assert.Equal([Path.Combine(_root, "dotnet-tools.json")], tool.VersionFiles);
    }

    [Fact]
    public void The_config_folder_manifest_is_read_first_and_a_root_manifest_without_lm_tune_ends_the_search()
    {
        string project = Directory.CreateDirectory(Path.Combine(_root, "app")).FullName;
        Directory.CreateDirectory(Path.Combine(project, ".config"));
        File.WriteAllText(Path.Combine(project, ".config", "dotnet-tools.json"), ManifestWithTool);
        File.WriteAllText(Path.Combine(project, "dotnet-tools.json"), """{ "version": 1, "isRoot": true, "tools": {} }""");
        Assert.Equal(Path.Combine(project, ".config", "dotnet-tools.json"), ToolCommand.FindLocalManifest(project));

        // A root manifest that does not list lm-tune hides the one above it, as `dotnet tool run` would not see it.
        File.Delete(Path.Combine(project, ".config", "dotnet-tools.json"));
        File.WriteAllText(Path.Combine(_root, "dotnet-tools.json"), ManifestWithTool);
        Assert.Null(ToolCommand.FindLocalManifest(project));

        // Not a root: the search goes on to the parent's manifest.
        File.WriteAllText(Path.Combine(project, "dotnet-tools.json"), """{ "version": 1, "isRoot": false, "tools": { "other": { "version": "1.0.0", "commands": [ "other" ] } } }""");
        Assert.Equal(Path.Combine(_root, "dotnet-tools.json"), ToolCommand.FindLocalManifest(project));
    }

    [Fact]
    public void LmToolPath_wins_over_a_manifest()
    {
        File.WriteAllText(Path.Combine(_root, "dotnet-tools.json"), ManifestWithTool);
        string script = Path.Combine(_root, "my-lm-tune.sh");
        File.WriteAllText(script, "#!/bin/sh\n");

        var tool = ToolCommand.Locate("my-lm-tune.sh", _root)!;

        Assert.Equal(script, tool.Executable);
        Assert.Empty(tool.PrefixArguments);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
