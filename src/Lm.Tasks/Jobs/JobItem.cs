namespace Lm.Tasks.Jobs;

/// <summary>A <c>LanguageModelFineTune</c> item as the resolver sees it: its name, custom metadata and defining file.</summary>
internal sealed record JobItem(string Name, IReadOnlyDictionary<string, string> Metadata, string DefiningProjectFile)
{
    /// <summary>The metadata value, or empty when unset (MSBuild does not tell unset from empty apart).</summary>
    public string Get(string metadataName) =>
        Metadata.TryGetValue(metadataName, out var value) ? value.Trim() : "";
}

/// <summary>An error or warning about one item, with the place in the project file it is about.</summary>
internal sealed record JobDiagnostic(string Code, string Message, ItemLocation Location, bool IsWarning = false);
