using System.Reflection;

namespace Lm.Tasks.Tooling;

/// <summary>The version Lm.Build, Lm.Runtime and lm-tune share (Directory.Build.props' Version), as versions are compared.</summary>
internal static class ToolVersion
{
    /// <summary>This assembly's (the Lm.Build package's) version: <c>0.1.0</c> of <c>0.1.0+4f2c…</c>.</summary>
    public static string Own { get; } =
        WithoutBuildMetadata(typeof(ToolVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? typeof(ToolVersion).Assembly.GetName().Version?.ToString() ?? "");

    /// <summary>A version without its SemVer build metadata (<c>+commit</c>), which does not make another release.</summary>
    public static string WithoutBuildMetadata(string version)
    {
        int plus = version.IndexOf('+');
        return plus < 0 ? version : version[..plus];
    }
}
