using System.Xml;
using System.Xml.Linq;

namespace Lm.Tasks.Jobs;

/// <summary>A place in a project file that an error can point at; line and column are 1-based, 0 when unknown.</summary>
internal readonly record struct ItemLocation(string File, int Line, int Column)
{
    /// <summary>
    /// Finds the <c>&lt;LanguageModelFineTune Include="name"&gt;</c> element (and, when asked, one of its metadata
    /// attributes or child elements) in the file that defined the item. MSBuild gives tasks no line numbers, so the
    /// project file is read again; an item included through a property or wildcard points at the file alone.
    /// </summary>
    public static ItemLocation Find(string projectFile, string itemType, string identity, string? metadataName = null, int occurrence = 0)
    {
        var element = FindElement(projectFile, itemType, identity, occurrence);
        if (element is null) return new ItemLocation(projectFile, 0, 0);
        IXmlLineInfo info = element;
        if (metadataName is not null)
        {
            IXmlLineInfo? metadata = (IXmlLineInfo?)element.Attributes().FirstOrDefault(a => Matches(a.Name, metadataName))
                ?? element.Elements().FirstOrDefault(e => Matches(e.Name, metadataName));
            if (metadata is not null) info = metadata;
        }
        return new ItemLocation(projectFile, info.LineNumber, info.LinePosition);
    }

    private static XElement? FindElement(string projectFile, string itemType, string identity, int occurrence)
    {
        XDocument document;
        try
        {
            document = XDocument.Load(projectFile, LoadOptions.SetLineInfo);
        }
        catch (Exception e) when (e is IOException or XmlException or UnauthorizedAccessException)
        {
            return null;
        }
        return document.Descendants()
            .Where(e => Matches(e.Name, itemType))
            .Where(e => ((string?)e.Attribute("Include") ?? "")
                .Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Contains(identity, StringComparer.OrdinalIgnoreCase))
            .Skip(occurrence)
            .FirstOrDefault();
    }

    private static bool Matches(XName name, string localName) =>
        string.Equals(name.LocalName, localName, StringComparison.OrdinalIgnoreCase);
}
