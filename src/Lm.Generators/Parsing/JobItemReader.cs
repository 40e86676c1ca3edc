using System.Collections.Generic;
using Lm.Generators.Diagnostics;
using Lm.Generators.Model;
using Lm.Schema;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Lm.Generators.Parsing
{
    /// <summary>
    /// Reads a project's <c>&lt;LanguageModelFineTune&gt;</c> items. MSBuild hands them to the compiler as additional
    /// files whose metadata is compiler-visible (<c>CompilerVisibleItemMetadata Include="LanguageModelFineTune"</c>),
    /// which the compiler exposes as <c>build_metadata.LanguageModelFineTune.&lt;Name&gt;</c> options of that file.
    /// Read: <c>Identity</c> (the job name; required to count as an item), <c>Config</c>, <c>Model</c>, and every
    /// schema field by its C# name (<c>TrainFile</c>, <c>ValidationFile</c>, <c>LearningRate</c>, ...). Empty metadata
    /// counts as not set.
    /// </summary>
    internal static class JobItemReader
    {
        public const string ItemType = "LanguageModelFineTune";
        public const string MetadataPrefix = "build_metadata." + ItemType + ".";

        /// <summary>The item behind <paramref name="options"/>, or null when the file is not a fine-tune item.</summary>
        public static JobItemModel? Read(AnalyzerConfigOptions options)
        {
            if (!options.TryGetValue(MetadataPrefix + "Identity", out string? identity) || string.IsNullOrWhiteSpace(identity))
                return null;
            string name = identity.Trim();
            string? config = Get(options, "Config");
            var values = new List<FieldValue>();
            var diagnostics = new List<DiagnosticInfo>();
            foreach (SchemaField field in JobSchema.Fields)
            {
                string? text = Get(options, field.PascalName);
                if (text is null && field.AttributeProperty != field.PascalName) text = Get(options, field.AttributeProperty);
                if (text is null) continue;
                string? normalized = FieldText.TryNormalize(field, text);
                if (normalized is null)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.MalformedValue, null,
                        $"<{ItemType} Include=\"{name}\"> metadata {field.PascalName}", field.Expected, text));
                    continue;
                }
                values.Add(new FieldValue(field.Name, normalized, null, name));
            }
            return new JobItemModel(name, config, values.ToEquatableArray(), diagnostics.ToEquatableArray());
        }

        private static string? Get(AnalyzerConfigOptions options, string metadataName) =>
            options.TryGetValue(MetadataPrefix + metadataName, out string? value) && !string.IsNullOrWhiteSpace(value) ? value.Trim() : null;
    }
}
