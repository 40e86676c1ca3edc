using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Lm.Generators.Model
{
    /// <summary>
    /// A source location as plain values (file, span, lines): pipeline models must not hold a
    /// <see cref="Location"/>, which keeps a syntax tree alive and never compares equal across runs.
    /// </summary>
    internal sealed record LocationInfo(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
    {
        public Location ToLocation() => Location.Create(FilePath, Span, LineSpan);

        public static LocationInfo? From(SyntaxNode? node)
        {
            if (node is null) return null;
            Location location = node.GetLocation();
            return location.SourceTree is null
                ? null
                : new LocationInfo(location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);
        }

        public static LocationInfo? From(SyntaxToken token)
        {
            Location location = token.GetLocation();
            return location.SourceTree is null
                ? null
                : new LocationInfo(location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);
        }
    }
}
