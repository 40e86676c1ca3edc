using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using Lm.Generators.Diagnostics;
using Lm.Generators.Model;
using Lm.Schema;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Lm.Generators.Parsing
{
    /// <summary>
    /// Reads a <c>[FineTuneJob]</c> class into a <see cref="JobClassModel"/>: its declaration chain, job name and
    /// the values set by the named arguments of <c>[FineTuneJob]</c>, <c>[TextDataset]</c>, <c>[ChatDataset]</c>,
    /// <c>[Training]</c> and <c>[Lora]</c>,
    /// each with the location of its argument. Values are checked later (JobValidator), together with the item's.
    /// </summary>
    internal static class JobClassParser
    {
        public static JobClassModel Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
        {
            var symbol = (INamedTypeSymbol)context.TargetSymbol;
            var declaration = (TypeDeclarationSyntax)context.TargetNode;
            var diagnostics = new List<DiagnosticInfo>();

            AttributeData jobAttribute = context.Attributes[0];
            var jobAttributeSyntax = jobAttribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken) as AttributeSyntax;
            string jobName = jobAttribute.ConstructorArguments.Length == 1 && jobAttribute.ConstructorArguments[0].Value is string name ? name : "";
            LocationInfo? jobNameLocation = LocationInfo.From(
                jobAttributeSyntax?.ArgumentList?.Arguments.FirstOrDefault(a => a.NameEquals is null) ?? (SyntaxNode?)jobAttributeSyntax);
            if (!IsValidJobName(jobName))
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidJobName, jobNameLocation, jobName));

            bool canHaveMembers = IsPartialChain(symbol, cancellationToken);
            if (!canHaveMembers)
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ConfigClassNotPartial,
                    LocationInfo.From(declaration.Identifier), symbol.ToDisplayString()));

            var values = new List<FieldValue>();
            var loraValues = new List<FieldValue>();
            bool hasLora = false;
            LocationInfo? loraAttribute = null;
            foreach (AttributeData attribute in symbol.GetAttributes())
            {
                string? metadataName = attribute.AttributeClass?.ToDisplayString();
                string? section = metadataName is null ? null : AttributeNames.SectionOf(metadataName);
                if (section is null) continue;
                bool isLora = metadataName == AttributeNames.Lora;
                var syntax = attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken) as AttributeSyntax;
                if (isLora)
                {
                    hasLora = true;
                    loraAttribute = LocationInfo.From(syntax);
                }
                foreach (KeyValuePair<string, TypedConstant> argument in attribute.NamedArguments)
                {
                    SchemaField? field = isLora ? LoraAttributeProperties.Find(argument.Key) : JobSchema.FindByAttributeProperty(section, argument.Key);
                    string? text = field is null ? null : ToInvariantText(argument.Value);
                    if (field is null || text is null) continue;
                    SyntaxNode? argumentSyntax = syntax?.ArgumentList?.Arguments
                        .FirstOrDefault(a => a.NameEquals?.Name.Identifier.ValueText == argument.Key);
                    var value = new FieldValue(field.Name, text, LocationInfo.From(argumentSyntax ?? syntax), null, isLora ? argument.Key : null);
                    (isLora ? loraValues : values).Add(value);
                }
            }
            if (hasLora) LoraAttributeMerge.Apply(values, loraValues, loraAttribute, diagnostics);

            EquatableArray<FieldValue> launch = DistributedParser.Parse(symbol, diagnostics, cancellationToken);

            var containing = new List<TypeDeclarationInfo>();
            for (SyntaxNode? parent = declaration.Parent; parent is TypeDeclarationSyntax outer; parent = outer.Parent)
                containing.Insert(0, DeclarationOf(outer));

            return new JobClassModel(
                symbol.ContainingNamespace.IsGlobalNamespace ? null : symbol.ContainingNamespace.ToDisplayString(),
                containing.ToEquatableArray(),
                DeclarationOf(declaration),
                symbol.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat.WithGlobalNamespaceStyle(SymbolDisplayGlobalNamespaceStyle.Omitted)),
                jobName,
                jobNameLocation,
                canHaveMembers,
                values.OrderBy(v => Order(v.Name)).ToEquatableArray(),
                diagnostics.ToEquatableArray())
            {
                Launch = launch,
            };
        }

        /// <summary>A job name becomes a folder name and an MSBuild item identity: keep it to a safe alphabet.</summary>
        public static bool IsValidJobName(string name) =>
            name.Length > 0 && name != "." && name != ".."
            && name.All(c => c < 128 && (char.IsLetterOrDigit(c) || c == '-' || c == '_' || c == '.'));

        /// <summary>The constant as the schema's invariant text; null for null, errors and unsupported types.</summary>
        private static string? ToInvariantText(TypedConstant constant)
        {
            if (constant.Kind != TypedConstantKind.Primitive) return null;
            switch (constant.Value)
            {
                case string s: return s;
                case bool b: return b ? "true" : "false";
                case int i: return i.ToString(CultureInfo.InvariantCulture);
                case double d: return FieldText.Number(d);
                default: return null;
            }
        }

        private static int Order(string name)
        {
            int index = JobSchema.IndexOf(name);
            return index < 0 ? int.MaxValue : index;
        }

        private static bool IsPartialChain(INamedTypeSymbol symbol, CancellationToken cancellationToken)
        {
            for (INamedTypeSymbol? type = symbol; type is not null; type = type.ContainingType)
            {
                if (type.IsGenericType) return false;
                foreach (SyntaxReference reference in type.DeclaringSyntaxReferences)
                {
                    if (reference.GetSyntax(cancellationToken) is TypeDeclarationSyntax syntax
                        && !syntax.Modifiers.Any(m => m.IsKind(SyntaxKind.PartialKeyword)))
                        return false;
                }
            }
            return true;
        }

        private static TypeDeclarationInfo DeclarationOf(TypeDeclarationSyntax syntax)
        {
            string keyword = syntax is RecordDeclarationSyntax record && !record.ClassOrStructKeyword.IsKind(SyntaxKind.None)
                ? "record " + record.ClassOrStructKeyword.Text
                : syntax.Keyword.Text;
            return new TypeDeclarationInfo(keyword, syntax.Identifier.ValueText);
        }
    }
}
