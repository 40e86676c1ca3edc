using System.Collections.Generic;
using System.Globalization;
using Lm.Generators.Diagnostics;
using Lm.Generators.Model;
using Lm.Generators.Schema;
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
            foreach (KnownField field in JobSchema.Fields)
            {
                string? text = Get(options, field.PascalName);
                if (text is null && field.AttributeProperty != field.PascalName) text = Get(options, field.AttributeProperty);
                if (text is null) continue;
                string? normalized = Normalize(field, text, out string expected);
                if (normalized is null)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.MalformedValue, null,
                        $"<{ItemType} Include=\"{name}\"> metadata {field.PascalName}", expected, text));
                    continue;
                }
                values.Add(new FieldValue(field.Name, normalized, null, name));
            }
            return new JobItemModel(name, config, values.ToEquatableArray(), diagnostics.ToEquatableArray());
        }

        private static string? Get(AnalyzerConfigOptions options, string metadataName) =>
            options.TryGetValue(MetadataPrefix + metadataName, out string? value) && !string.IsNullOrWhiteSpace(value) ? value.Trim() : null;

        /// <summary>
        /// Metadata text as the field's invariant text (as Lm.Runtime's <c>JobField.ParseText</c> reads it), or null
        /// when it does not fit; <paramref name="expected"/> says what would.
        /// </summary>
        public static string? Normalize(KnownField field, string text, out string expected)
        {
            switch (field.Kind)
            {
                case FieldKind.Integer:
                    expected = "a whole number";
                    return long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long integer)
                        && integer >= int.MinValue && integer <= int.MaxValue
                        ? integer.ToString(CultureInfo.InvariantCulture)
                        : null;
                case FieldKind.Number:
                    expected = "a number";
                    return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double number)
                        && !double.IsNaN(number) && !double.IsInfinity(number)
                        ? number.ToString("R", CultureInfo.InvariantCulture)
                        : null;
                case FieldKind.Boolean:
                    expected = "true or false";
                    return bool.TryParse(text, out bool flag) ? (flag ? "true" : "false") : null;
                case FieldKind.Map:
                    expected = "key=number pairs separated by commas";
                    return SchedulerKwargs.TryParse(text, out _) ? text : null;
                default:
                    expected = "text";
                    return text;
            }
        }
    }
}
