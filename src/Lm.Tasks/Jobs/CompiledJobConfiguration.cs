using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace Lm.Tasks.Jobs;

/// <summary>
/// One <c>[assembly: Lm.Runtime.Jobs.FineTuneJobConfiguration(jobName, json, ConfigType = ...)]</c> the source generator
/// compiled into the project's assembly: an attributed config class's resolved settings.
/// </summary>
internal sealed record CompiledJobConfiguration(string JobName, string Json, string? ConfigType)
{
    private const string AttributeNamespace = "Lm.Runtime.Jobs";
    private const string AttributeName = "FineTuneJobConfigurationAttribute";

    /// <summary>Whether an item's <c>Config</c> value names this configuration: full or simple class name, else the job name.</summary>
    public bool IsNamedBy(string config) =>
        ConfigType is not null
            ? ConfigType == config || SimpleName(ConfigType) == config
            : JobName == config;

    /// <summary>
    /// Reads the configurations from a compiled assembly's metadata without loading it (the MSBuild node must not
    /// load user assemblies, which would lock them and could pull in TorchSharp).
    /// </summary>
    public static IReadOnlyList<CompiledJobConfiguration> ReadFrom(string assemblyPath, out IReadOnlyList<string> typeNames)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        var metadata = pe.GetMetadataReader();
        var found = new List<CompiledJobConfiguration>();
        var provider = new StringArgumentProvider();
        foreach (var handle in metadata.GetAssemblyDefinition().GetCustomAttributes())
        {
            var attribute = metadata.GetCustomAttribute(handle);
            if (!IsConfigurationAttribute(metadata, attribute.Constructor)) continue;
            var value = attribute.DecodeValue(provider);
            if (value.FixedArguments.Length != 2) continue;
            string? configType = value.NamedArguments.FirstOrDefault(a => a.Name == "ConfigType").Value as string;
            found.Add(new CompiledJobConfiguration(
                value.FixedArguments[0].Value as string ?? "", value.FixedArguments[1].Value as string ?? "{}", configType));
        }
        typeNames = metadata.TypeDefinitions
            .Select(h => metadata.GetString(metadata.GetTypeDefinition(h).Name))
            .Where(name => !name.StartsWith('<'))
            .ToList();
        return found;
    }

    private static string SimpleName(string fullName) => fullName[(fullName.LastIndexOfAny(['.', '+']) + 1)..];

    private static bool IsConfigurationAttribute(MetadataReader metadata, EntityHandle constructor)
    {
        EntityHandle type = constructor.Kind switch
        {
            HandleKind.MemberReference => metadata.GetMemberReference((MemberReferenceHandle)constructor).Parent,
            HandleKind.MethodDefinition => metadata.GetMethodDefinition((MethodDefinitionHandle)constructor).GetDeclaringType(),
            _ => default,
        };
        return type.Kind switch
        {
            HandleKind.TypeReference => metadata.GetTypeReference((TypeReferenceHandle)type) is var r
                && metadata.StringComparer.Equals(r.Namespace, AttributeNamespace) && metadata.StringComparer.Equals(r.Name, AttributeName),
            HandleKind.TypeDefinition => metadata.GetTypeDefinition((TypeDefinitionHandle)type) is var d
                && metadata.StringComparer.Equals(d.Namespace, AttributeNamespace) && metadata.StringComparer.Equals(d.Name, AttributeName),
            _ => false,
        };
    }

    /// <summary>Decodes the attribute's arguments, which are all strings; other types decode to their names only.</summary>
    private sealed class StringArgumentProvider : ICustomAttributeTypeProvider<string>
    {
        public string GetPrimitiveType(PrimitiveTypeCode typeCode) => typeCode.ToString();
        public string GetSystemType() => "System.Type";
        public string GetSZArrayType(string elementType) => elementType + "[]";
        public string GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) =>
            reader.GetString(reader.GetTypeDefinition(handle).Name);
        public string GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) =>
            reader.GetString(reader.GetTypeReference(handle).Name);
        public string GetTypeFromSerializedName(string name) => name;
        public PrimitiveTypeCode GetUnderlyingEnumType(string type) => PrimitiveTypeCode.Int32;
        public bool IsSystemType(string type) => type == "System.Type";
    }
}
