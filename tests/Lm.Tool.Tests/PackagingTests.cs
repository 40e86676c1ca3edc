using System.Diagnostics;
using System.IO.Compression;
using Lm.Testing;

namespace Lm.Tool.Tests;

public sealed class PackagingTests
{
    [Fact]
    [Trait("Category", "Slow")]
    public void Tool_package_carries_libtorch_and_installs_as_a_working_global_tool()
    {
        string work = Directory.CreateTempSubdirectory("lm-pack-").FullName;
        try
        {
            string project = Path.Combine(LmTuneProcess.RepoRoot, "src", "Lm.Tool", "Lm.Tool.csproj");
            string configuration = new DirectoryInfo(Path.GetDirectoryName(LmTuneProcess.Executable)!).Parent!.Name;
            Dotnet(work, privatePackages: false, RepositoryPack.Arguments(project, configuration, Path.Combine(work, "feed"), Path.Combine(work, "pack")));

            string package = Assert.Single(Directory.GetFiles(Path.Combine(work, "feed"), "lm-tune.*.nupkg"));
            using (var zip = ZipFile.OpenRead(package))
            {
                var names = zip.Entries.Select(e => e.FullName).ToHashSet();
                Assert.Contains("tools/net10.0/linux-x64/libtorch_cpu.so", names);
                Assert.Contains("tools/net10.0/linux-x64/libLibTorchSharp.so", names);
                Assert.Contains("tools/net10.0/linux-x64/lm-tune.dll", names);
                Assert.DoesNotContain("tools/net10.0/linux-x64/libtorch_python.so", names);
            }

            // A private package folder, so an older lm-tune of the same version in ~/.nuget cannot stand in; the folder
            // feed as the only source, so the install needs no network (the tool package has no dependencies).
            string config = Path.Combine(work, "nuget.config");
            File.WriteAllText(config, $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <clear />
                    <add key="local" value="{Path.Combine(work, "feed")}" />
                  </packageSources>
                </configuration>
                """);
            Dotnet(work, privatePackages: true, "tool", "install", "--tool-path", Path.Combine(work, "tools"), "--configfile", config, "lm-tune");
            string installed = Path.Combine(work, "tools", "lm-tune");
            var help = Run(installed, work, "--help");
            Assert.True(help.ExitCode == 0, help.Output);
            Assert.Contains("doctor", help.Output);
            var doctor = Run(installed, work, "doctor");
            Assert.True(doctor.ExitCode == 0, doctor.Output);
            Assert.Contains("TorchSharp ready", doctor.Output);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static void Dotnet(string work, bool privatePackages, params string[] args)
    {
        var result = Run("dotnet", work, privatePackages, args);
        Assert.True(result.ExitCode == 0, $"dotnet {string.Join(' ', args)}\n{result.Output}");
    }

    private static (int ExitCode, string Output) Run(string program, string work, params string[] args) => Run(program, work, false, args);

    private static (int ExitCode, string Output) Run(string program, string work, bool privatePackages, params string[] args)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = work,
        };
        foreach (string arg in args) start.ArgumentList.Add(arg);
        if (privatePackages) start.Environment["NUGET_PACKAGES"] = Path.Combine(work, "packages");
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(8)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', args)} timed out");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
