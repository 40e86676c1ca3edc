using System.Linq;
using System.Threading;
using Lm.Generators.Diagnostics;
using Lm.Generators.Model;
using Microsoft.CodeAnalysis;

namespace Lm.Generators.Parsing
{
    /// <summary>Finds <c>[TextDataset]</c> / <c>[ChatDataset]</c> / <c>[Training]</c> on a class that has no <c>[FineTuneJob]</c>.</summary>
    internal static class StrayAttributeParser
    {
        public static DiagnosticInfo? Check(GeneratorAttributeSyntaxContext context, string shortName, CancellationToken cancellationToken)
        {
            bool hasJob = context.TargetSymbol.GetAttributes()
                .Any(a => a.AttributeClass?.ToDisplayString() == AttributeNames.FineTuneJob);
            if (hasJob) return null;
            SyntaxNode? attribute = context.Attributes[0].ApplicationSyntaxReference?.GetSyntax(cancellationToken);
            return DiagnosticInfo.Create(DiagnosticDescriptors.AttributeWithoutJob, LocationInfo.From(attribute),
                shortName, context.TargetSymbol.ToDisplayString());
        }
    }
}
