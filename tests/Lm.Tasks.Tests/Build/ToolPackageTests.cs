using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Xunit.Abstractions;

namespace Lm.Tasks.Tests.Build;

/// <summary>
/// The lm-tune tool as .NET 10 RID-specific tool packages: <c>dotnet pack src/Lm.Tool</c> makes <c>lm-tune</c>, which
/// only points to the platforms' packages, and <c>lm-tune.linux-x64</c>, <c>lm-tune.win-x64</c> and
/// <c>lm-tune.osx-arm64</c>, each with its platform's apphost, libtorch and TorchSharp bridge. The binaries' headers
/// are read here (ELF x86-64, PE AMD64, Mach-O arm64), so a package with another platform's files fails. The linux-x64
/// package is then installed from the folder feed through the pointer package and run. Restoring the win-x64 and
/// osx-arm64 libtorch packages costs one download of about 140 MB into the NuGet cache (about 620 MB unpacked) the
/// first time; the pack takes about 3 minutes on two busy cores (Category=Packaging runs it alone).
/// </summary>
[Collection(BuildCollection.Name)]
[Trait("Category", "Slow")]
[Trait("Category", "Packaging")]
public sealed class ToolPackageTests(ITestOutputHelper output)
{
    /// <summary>
    /// Per platform: the native libraries its package must carry, as libtorch 2.10.0's packages and TorchSharp 0.107
    /// name them, the apphost's file name, and the parts of libtorch lm-tune never loads, which stay out.
    /// </summary>
    private static readonly (string Rid, string[] Natives, string Apphost, string[] LeftOut)[] Platforms =
    [
        ("linux-x64",
            ["libLibTorchSharp.so", "libc10.so", "libgomp-98b21ff3.so.1", "libshm.so", "libtorch.so", "libtorch_cpu.so", "libtorch_global_deps.so"],
            "lm-tune",
            ["libtorch_python.so", "libnnapi_backend.so", "libtorchbind_test.so", "libjitbackend_test.so", "libbackend_with_compiler.so", "libaoti_custom_ops.so"]),
        ("win-x64",
            ["LibTorchSharp.dll", "c10.dll", "libiomp5md.dll", "libiompstubs5md.dll", "torch.dll", "torch_cpu.dll", "torch_global_deps.dll", "uv.dll"],
            "lm-tune.exe",
            ["libSkiaSharp.dll"]),
        ("osx-arm64",
            ["libLibTorchSharp.dylib", "libc10.dylib", "libomp.dylib", "libshm.dylib", "libtorch.dylib", "libtorch_cpu.dylib", "libtorch_global_deps.dylib"],
            "lm-tune",
            ["libtorch_python.dylib", "libSkiaSharp.dylib"]),
    ];

    [Fact]
    public void Tool_packs_one_package_per_platform_behind_a_pointer_package_and_installs_on_linux_x64()
    {
        string work = Directory.CreateTempSubdirectory("lm-toolpack-").FullName;
        try
        {
            // docs/cli.md's command, as a release packs the tool (every platform: Lm.Tool.csproj's default).
            string feed = ToolPackages.Feed;
            output.WriteLine($"dotnet pack src/Lm.Tool: {ToolPackages.PackTime.TotalSeconds:0} s (0 when another test packed first)");

            string pointer = Assert.Single(Directory.GetFiles(feed, "lm-tune.*.nupkg"), f => Regex.IsMatch(Path.GetFileName(f), @"^lm-tune\.\d"));
            string version = Regex.Match(Path.GetFileName(pointer), @"^lm-tune\.(.+)\.nupkg$").Groups[1].Value;
            Assert.Equal(
                new[] { $"lm-tune.{version}.nupkg" }.Concat(Platforms.Select(p => $"lm-tune.{p.Rid}.{version}.nupkg")).Order(StringComparer.Ordinal),
                Directory.GetFiles(feed).Select(Path.GetFileName).Order(StringComparer.Ordinal));

            // The pointer: a DotnetTool package without implementation, whose settings name the package of each RID.
            using (var zip = ZipFile.OpenRead(pointer))
            {
                Assert.Equal(["README.md", "lm-tune.nuspec", "tools/any/any/DotnetToolSettings.xml"], PackageFiles(zip));
                Assert.Equal("DotnetTool", PackageType(zip, "lm-tune"));
                var settings = Xml(zip, "tools/any/any/DotnetToolSettings.xml");
                Assert.Equal("lm-tune", (string?)settings.Descendants("Command").Single().Attribute("Name"));
                Assert.Equal(Platforms.Select(p => (p.Rid, $"lm-tune.{p.Rid}")),
                    settings.Descendants("RuntimeIdentifierPackage").Select(e => ((string)e.Attribute("RuntimeIdentifier")!, (string)e.Attribute("Id")!)));
            }

            foreach (var (rid, natives, apphost, leftOut) in Platforms)
            {
                using var zip = ZipFile.OpenRead(Path.Combine(feed, $"lm-tune.{rid}.{version}.nupkg"));
                string root = $"tools/net10.0/{rid}/";
                var files = PackageFiles(zip).Where(f => f.StartsWith(root, StringComparison.Ordinal)).Select(f => f[root.Length..]).ToHashSet();
                Assert.Equal("DotnetToolRidPackage", PackageType(zip, $"lm-tune.{rid}"));
                // Framework-dependent: the apphost runs lm-tune.dll on the .NET 10 runtime of the SDK that installed it.
                var command = Xml(zip, root + "DotnetToolSettings.xml").Descendants("Command").Single();
                Assert.Equal(("lm-tune", apphost, "executable"),
                    ((string)command.Attribute("Name")!, (string)command.Attribute("EntryPoint")!, (string)command.Attribute("Runner")!));
                foreach (string managed in new[] { "lm-tune.dll", "Lm.Runtime.dll", "TorchSharp.dll", "lm-tune.runtimeconfig.json", "lm-tune.deps.json", apphost })
                    Assert.Contains(managed, files);
                foreach (string native in natives) Assert.Contains(native, files);
                foreach (string unused in leftOut) Assert.DoesNotContain(unused, files);
                if (rid != "win-x64") // .dll names both managed and native files on Windows; elsewhere the extension tells
                    Assert.Equal(natives.Order(StringComparer.Ordinal), files.Where(f => Regex.IsMatch(f, @"\.(so(\.\d+)?|dylib)$")).Order(StringComparer.Ordinal));
                // Built for that platform: the apphost, libtorch and the bridge are that platform's binaries.
                Assert.Equal(rid, BinaryPlatform(zip, root + apphost));
                foreach (string native in natives.Where(n => n.Contains("torch_cpu", StringComparison.Ordinal) || n.Contains("LibTorchSharp", StringComparison.Ordinal)))
                    Assert.Equal(rid, BinaryPlatform(zip, root + native));
            }

            // Installed as a user would from the feed: the CLI reads the pointer and fetches this platform's package only.
            string packages = Path.Combine(work, "packages");
            File.WriteAllText(Path.Combine(work, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <config><add key="globalPackagesFolder" value="{packages}" /></config>
                  <packageSources>
                    <clear />
                    <add key="local" value="{feed}" />
                  </packageSources>
                </configuration>
                """);
            var install = new DotnetCommand(work, output, new Dictionary<string, string>
            {
                ["NUGET_PACKAGES"] = packages,
                ["DOTNET_CLI_HOME"] = Directory.CreateDirectory(Path.Combine(work, "cli-home")).FullName,
            });
            install.Succeed("tool", "install", "--tool-path", Path.Combine(work, "tools"), "--configfile", Path.Combine(work, "nuget.config"), "lm-tune", "--version", version);
            // A --tool-path install keeps its packages in <tool-path>/.store/<pointer id>/<version>/.
            string store = Path.Combine(work, "tools", ".store", "lm-tune", version);
            Assert.Equal(["lm-tune", "lm-tune.linux-x64"], Directory.GetDirectories(store).Select(Path.GetFileName).Order(StringComparer.Ordinal));
            Assert.True(File.Exists(Path.Combine(store, "lm-tune.linux-x64", version, "tools", "net10.0", "linux-x64", "libtorch_cpu.so")));

            string installed = Path.Combine(work, "tools", "lm-tune");
            Assert.StartsWith(version + "+", Run(installed, work, "--version").Trim());
            string doctor = Run(installed, work, "doctor");
            Assert.Contains("TorchSharp ready", doctor);
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>The package's own files, without NuGet's bookkeeping (_rels, [Content_Types].xml, package/).</summary>
    private static string[] PackageFiles(ZipArchive zip) =>
        zip.Entries.Select(e => e.FullName)
            .Where(n => !n.StartsWith("_rels/", StringComparison.Ordinal) && !n.StartsWith("package/", StringComparison.Ordinal) && n != "[Content_Types].xml")
            .Order(StringComparer.Ordinal).ToArray();

    private static XDocument Xml(ZipArchive zip, string entry)
    {
        using var stream = zip.GetEntry(entry)!.Open();
        return XDocument.Load(stream);
    }

    private static string PackageType(ZipArchive zip, string id) =>
        (string)Xml(zip, id + ".nuspec").Descendants().Single(e => e.Name.LocalName == "packageType").Attribute("name")!;

    /// <summary>
    /// The platform a binary is for, from its header: ELF with e_machine 62 (x86-64), PE with machine 0x8664 (AMD64),
    /// 64-bit Mach-O with cputype 0x0100000C (arm64).
    /// </summary>
    private static string BinaryPlatform(ZipArchive zip, string entry)
    {
        var head = new byte[4096];
        using (var stream = zip.GetEntry(entry)!.Open()) stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        if (head.AsSpan(0, 4).SequenceEqual("\u007fELF"u8))
            return BinaryPrimitives.ReadUInt16LittleEndian(head.AsSpan(18)) == 62 ? "linux-x64" : "ELF of another machine";
        if (head.AsSpan(0, 2).SequenceEqual("MZ"u8))
        {
            int pe = BinaryPrimitives.ReadInt32LittleEndian(head.AsSpan(0x3C));
            return head.AsSpan(pe, 4).SequenceEqual("PE\0\0"u8) && BinaryPrimitives.ReadUInt16LittleEndian(head.AsSpan(pe + 4)) == 0x8664
                ? "win-x64" : "PE of another machine";
        }
        if (BinaryPrimitives.ReadUInt32LittleEndian(head) == 0xFEEDFACF)
            return BinaryPrimitives.ReadUInt32LittleEndian(head.AsSpan(4)) == 0x0100000C ? "osx-arm64" : "Mach-O of another machine";
        return "unknown";
    }

    private string Run(string program, string directory, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), $"{program} {string.Join(' ', arguments)} did not finish");
        output.WriteLine($"{Path.GetFileName(program)} {string.Join(' ', arguments)}: {process.ExitCode}\n{stdout}{stderr.Result}");
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', arguments)}: exit {process.ExitCode}\n{stdout}{stderr.Result}");
        return stdout;
    }
}
