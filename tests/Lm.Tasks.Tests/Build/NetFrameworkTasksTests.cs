using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Lm.Tasks.Tests.Build;

/// <summary>
/// The .NET Framework build of the tasks, for Visual Studio's MSBuild (MSBuildRuntimeType Full), which cannot run on
/// this machine: read as metadata, it must offer the same tasks with the same parameters as the .NET build, derive
/// them from MSBuild's <c>Task</c> (the contract AssemblyTaskFactory loads), and reference only assemblies .NET
/// Framework MSBuild has: .NET Framework 4.7.2's own, MSBuild's and its declared dependencies (read from MSBuild's own
/// packages), or one the package ships beside the task.
/// </summary>
public sealed class NetFrameworkTasksTests
{
    private static string Configuration => new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;

    private static string TasksAssembly(string framework) => Path.Combine(RepoRoot.Path, "src", "Lm.Tasks", "bin", Configuration, framework, "Lm.Tasks.dll");

    private static string NuGetPackages => Environment.GetEnvironmentVariable("NUGET_PACKAGES")
        ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    [Fact]
    public void The_net472_build_has_the_same_tasks_and_parameters_as_the_net10_build_and_the_targets_name_them()
    {
        var framework = ReadTasks(TasksAssembly("net472"), out string frameworkTarget);
        var core = ReadTasks(TasksAssembly("net10.0"), out string coreTarget);
        Assert.Equal(".NETFramework,Version=v4.7.2", frameworkTarget);
        Assert.Equal(".NETCoreApp,Version=v10.0", coreTarget);

        Assert.Equal(["CheckToolVersion", "CleanFineTuneJobs", "FineTune", "ResolveFineTuneJobs"], framework.Keys.Order());
        Assert.Equal(core.Keys.Order(), framework.Keys.Order());
        foreach (var (task, parameters) in core)
            Assert.Equal(parameters, framework[task]);

        string targets = File.ReadAllText(Path.Combine(RepoRoot.Path, "src", "Lm.Tasks", "build", "Lm.Build.targets"));
        var usingTasks = Regex.Matches(targets, "<UsingTask TaskName=\"Lm\\.Tasks\\.(\\w+)\"").Select(m => m.Groups[1].Value).Order();
        Assert.Equal(framework.Keys.Order(), usingTasks);
    }

    [Fact]
    public void The_net472_build_references_only_what_NET_Framework_MSBuild_provides()
    {
        string folder = Path.Combine(NuGetPackages, "microsoft.netframework.referenceassemblies.net472");
        string referenceAssemblies = Path.Combine(Directory.GetDirectories(folder).Single(), "build", ".NETFramework", "v4.7.2");
        var framework = Directory.GetFiles(referenceAssemblies, "*.dll").Concat(Directory.GetFiles(Path.Combine(referenceAssemblies, "Facades"), "*.dll"))
            .Select(Path.GetFileNameWithoutExtension).ToHashSet(StringComparer.OrdinalIgnoreCase);

        // MSBuild's own assemblies and what its packages declare for .NET Framework: MSBuild ships and redirects them.
        var msbuild = new Dictionary<string, Version>(StringComparer.OrdinalIgnoreCase);
        foreach (string package in new[] { "microsoft.build.framework", "microsoft.build.utilities.core" })
        {
            string version = Regex.Match(File.ReadAllText(Path.Combine(RepoRoot.Path, "Directory.Packages.props")),
                $"\"{package}\" Version=\"(.*?)\"", RegexOptions.IgnoreCase).Groups[1].Value;
            var nuspec = XDocument.Load(Directory.GetFiles(Path.Combine(NuGetPackages, package, version), "*.nuspec").Single());
            msbuild[(string)nuspec.Descendants().First(e => e.Name.LocalName == "id")] = AssemblyVersionIn(Path.Combine(NuGetPackages, package, version));
            var group = nuspec.Descendants().Single(e => e.Name.LocalName == "group" && (string?)e.Attribute("targetFramework") == ".NETFramework4.7.2");
            foreach (var dependency in group.Elements())
            {
                string id = (string)dependency.Attribute("id")!;
                msbuild[id] = AssemblyVersionIn(Path.Combine(NuGetPackages, id.ToLowerInvariant(), (string)dependency.Attribute("version")!));
            }
        }
        // Beside the task in the package (Lm.Build.nuspec).
        string nuspecText = File.ReadAllText(Path.Combine(RepoRoot.Path, "src", "Lm.Tasks", "Lm.Build.nuspec"));
        var shipped = Regex.Matches(nuspecText, @"net472/([\w.]+)\.dll"" target=""tasks/net472/""").Select(m => m.Groups[1].Value).ToHashSet();
        Assert.Contains("Lm.Tasks", shipped);

        using var pe = new PEReader(File.OpenRead(TasksAssembly("net472")));
        var metadata = pe.GetMetadataReader();
        var unexplained = new List<string>();
        foreach (var handle in metadata.AssemblyReferences)
        {
            var reference = metadata.GetAssemblyReference(handle);
            string name = metadata.GetString(reference.Name);
            if (framework.Contains(name) || shipped.Contains(name)) continue;
            if (msbuild.TryGetValue(name, out var provided) && reference.Version <= provided) continue;
            unexplained.Add($"{name} {reference.Version}");
        }
        Assert.True(unexplained.Count == 0, "not provided by .NET Framework MSBuild: " + string.Join(", ", unexplained));
        Assert.Contains(metadata.AssemblyReferences, h => metadata.GetString(metadata.GetAssemblyReference(h).Name) == "Microsoft.Build.Utilities.Core");
    }

    /// <summary>Each public class deriving from Microsoft.Build.Utilities.Task, with its public settable properties and their MSBuild attributes.</summary>
    private static Dictionary<string, List<string>> ReadTasks(string assembly, out string targetFramework)
    {
        using var pe = new PEReader(File.OpenRead(assembly));
        var metadata = pe.GetMetadataReader();
        targetFramework = "";
        foreach (var attributeHandle in metadata.GetAssemblyDefinition().GetCustomAttributes())
        {
            var attribute = metadata.GetCustomAttribute(attributeHandle);
            if (AttributeName(metadata, attribute) != "TargetFrameworkAttribute") continue;
            var reader = metadata.GetBlobReader(attribute.Value);
            reader.ReadUInt16();
            targetFramework = reader.ReadSerializedString()!;
        }
        var tasks = new Dictionary<string, List<string>>();
        foreach (var typeHandle in metadata.TypeDefinitions)
        {
            var type = metadata.GetTypeDefinition(typeHandle);
            if ((type.Attributes & System.Reflection.TypeAttributes.VisibilityMask) != System.Reflection.TypeAttributes.Public) continue;
            if (type.BaseType.Kind != HandleKind.TypeReference) continue;
            var baseType = metadata.GetTypeReference((TypeReferenceHandle)type.BaseType);
            if (metadata.GetString(baseType.Namespace) + "." + metadata.GetString(baseType.Name) != "Microsoft.Build.Utilities.Task") continue;
            var parameters = new List<string>();
            foreach (var propertyHandle in type.GetProperties())
            {
                var property = metadata.GetPropertyDefinition(propertyHandle);
                var accessors = property.GetAccessors();
                if (accessors.Setter.IsNil || (metadata.GetMethodDefinition(accessors.Getter).Attributes & System.Reflection.MethodAttributes.Public) == 0) continue;
                var marks = property.GetCustomAttributes().Select(h => AttributeName(metadata, metadata.GetCustomAttribute(h)))
                    .Where(n => n is "RequiredAttribute" or "OutputAttribute").Order();
                parameters.Add(metadata.GetString(property.Name) + string.Concat(marks.Select(m => " " + m)));
            }
            parameters.Sort(StringComparer.Ordinal);
            tasks[metadata.GetString(type.Name)] = parameters;
        }
        return tasks;
    }

    private static string AttributeName(MetadataReader metadata, CustomAttribute attribute)
    {
        var parent = attribute.Constructor.Kind == HandleKind.MemberReference
            ? metadata.GetMemberReference((MemberReferenceHandle)attribute.Constructor).Parent
            : metadata.GetMethodDefinition((MethodDefinitionHandle)attribute.Constructor).GetDeclaringType();
        return parent.Kind == HandleKind.TypeReference
            ? metadata.GetString(metadata.GetTypeReference((TypeReferenceHandle)parent).Name)
            : metadata.GetString(metadata.GetTypeDefinition((TypeDefinitionHandle)parent).Name);
    }

    /// <summary>The assembly version of a package's .NET Framework library (lib/net4*/ID.dll).</summary>
    private static Version AssemblyVersionIn(string packageFolder)
    {
        string id = Path.GetFileName(Path.GetDirectoryName(packageFolder)!);
        var dll = Directory.GetDirectories(Path.Combine(packageFolder, "lib"), "net4*").Order(StringComparer.Ordinal)
            .SelectMany(d => Directory.GetFiles(d, "*.dll")).First(f => string.Equals(Path.GetFileNameWithoutExtension(f), id, StringComparison.OrdinalIgnoreCase));
        using var pe = new PEReader(File.OpenRead(dll));
        return pe.GetMetadataReader().GetAssemblyDefinition().Version;
    }
}
