using System.Diagnostics;
using Lm.Testing;

namespace Lm.Tasks.Tests.Build;

/// <summary>The outcome of one <c>dotnet</c> command on a temporary project.</summary>
internal sealed record DotnetRun(int ExitCode, string Output, TimeSpan Elapsed)
{
    public override string ToString() => $"exit {ExitCode} after {Elapsed.TotalSeconds:0.0} s\n{Output}";
}

/// <summary>
/// A console project in a temporary folder outside the repository (so the repository's Directory.Build.* files do
/// not apply), importing the fine-tune props and targets from source and the task assembly these tests were built
/// with, and built with the real <c>dotnet build</c>.
/// </summary>
internal sealed class TempProject : IDisposable
{
    /// <summary>The task assembly under test: the copy in this test's output folder.</summary>
    public static string TasksAssembly => typeof(Lm.Tasks.Jobs.JobResolver).Assembly.Location;

    public static string BuildFolder => Path.Combine(RepoRoot.Path, "src", "Lm.Tasks", "build");

    /// <param name="items">The project's LanguageModelFineTune items (and any other items).</param>
    /// <param name="packageReference">Null: import the props and targets from source and use the task assembly under
    /// test. Else a PackageReference line: the project gets the fine-tune step from that package.</param>
    /// <param name="program">Program.cs.</param>
    public TempProject(string items, string? packageReference = null, string program = "System.Console.WriteLine(\"app ran\");\n")
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("lm-tasks-test-").FullName;
        File.WriteAllText(Path.Combine(Directory, "train.txt"), "The tower is 324 metres tall.\nIt was the first structure to reach 300 metres.\n");
        File.WriteAllText(Path.Combine(Directory, "Program.cs"), program);
        string imports = packageReference is null
            ? $"""
                <Import Project="{BuildFolder}/Lm.Build.props" />
                <Import Project="{BuildFolder}/Lm.Build.targets" />
              """
            : "";
        string tasksAssembly = packageReference is null ? $"<LmTasksAssembly>{TasksAssembly}</LmTasksAssembly>" : "";
        ProjectText = $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                {tasksAssembly}
                <LmToolPath>{FakeTool.FileName}</LmToolPath>
              </PropertyGroup>
              <ItemGroup>
            {packageReference}
            {items}
              </ItemGroup>
            {imports}
            </Project>
            """;
        File.WriteAllText(ProjectFile, ProjectText);
        FakeTool.WriteTo(Directory);
    }

    public string Directory { get; }

    public string ProjectText { get; private set; }

    public string ProjectFile => Path.Combine(Directory, "app.csproj");

    public string PathOf(string relative) => Path.Combine(Directory, relative);

    /// <summary>Replaces text in the project file (a new hyperparameter, say).</summary>
    public void EditProject(string oldText, string newText)
    {
        Assert.Contains(oldText, ProjectText);
        ProjectText = ProjectText.Replace(oldText, newText);
        File.WriteAllText(ProjectFile, ProjectText);
    }

    /// <summary>The 1-based line of the first project-file line containing <paramref name="text"/>.</summary>
    public int LineOf(string text) => Array.FindIndex(ProjectText.Split('\n'), l => l.Contains(text)) + 1;

    /// <summary>How many times the fake tool ran in this project.</summary>
    public int ToolRuns => File.Exists(PathOf(FakeTool.CallLog)) ? File.ReadAllLines(PathOf(FakeTool.CallLog)).Length : 0;

    public DotnetRun Build(params string[] arguments) => Dotnet(["build", .. arguments]);

    public DotnetRun Dotnet(string[] arguments, IReadOnlyDictionary<string, string>? environment = null) =>
        new DotnetCommand(Directory).Run(arguments, environment);

    /// <summary>
    /// Starts <c>dotnet ARGS</c> in the project folder, with MSBuild node reuse off so no node outlives the test, and
    /// SIGINT at its default so the test can interrupt it (<see cref="Interruptible"/>).
    /// </summary>
    public Process Start(string[] arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var startInfo = DotnetCommand.StartInfo(Directory, arguments, environment);
        if (!startInfo.ArgumentList.Contains("-nodeReuse:false")) startInfo.ArgumentList.Add("-nodeReuse:false");
        return Process.Start(Interruptible.WithDefaultSigint(startInfo))!;
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A process the test started may still hold a file for a moment; the folder is under the temp root.
        }
    }
}
