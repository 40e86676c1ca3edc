using Lm.Generators.Diagnostics;
using Microsoft.CodeAnalysis;

namespace Lm.Generators.Model
{
    /// <summary>A diagnostic as plain values: the descriptor's id, where it points, and its message arguments.</summary>
    internal sealed record DiagnosticInfo(string Id, LocationInfo? Location, EquatableArray<string> Arguments)
    {
        public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, LocationInfo? location, params string[] arguments) =>
            new DiagnosticInfo(descriptor.Id, location, arguments.ToEquatableArray());

        public Diagnostic ToDiagnostic() =>
            Diagnostic.Create(
                DiagnosticDescriptors.ById(Id),
                Location?.ToLocation() ?? Microsoft.CodeAnalysis.Location.None,
                System.Linq.Enumerable.ToArray<object?>(Arguments));
    }
}
