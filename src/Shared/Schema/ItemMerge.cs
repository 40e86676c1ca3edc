using System;
using System.Collections.Generic;
using System.Linq;

namespace Lm.Schema
{
    /// <summary>How one field of a <c>&lt;LanguageModelFineTune&gt;</c> item joins its <c>[FineTuneJob]</c> class.</summary>
    internal enum MergeDecision
    {
        /// <summary>The class leaves the field unset (or it is the item's to decide): the item's value is taken.</summary>
        TakeItem,

        /// <summary>Both set it to the same value.</summary>
        Agree,

        /// <summary>Both set it, to different values: LM1009.</summary>
        Conflict,
    }

    /// <summary>
    /// The one rule that joins a config class with its item, used by the generator at compile time and by the MSBuild
    /// task before training: the item fills what the class leaves unset, and a value set in both places must agree
    /// (paths compare after normalising separators, <c>lr_scheduler_kwargs</c> as a set of pairs, everything else by
    /// its invariant text from <see cref="FieldText.TryNormalize"/>). The output folder is the item's: the build always
    /// gives it one.
    /// </summary>
    internal static class ItemMerge
    {
        /// <summary>The field the item always decides (the build's default or the item's own folder).</summary>
        public const string ItemDecides = "output_dir";

        /// <param name="field">The field the item sets.</param>
        /// <param name="classText">The class's value as invariant text, or null when the class leaves it unset.</param>
        /// <param name="itemText">The item's value as invariant text.</param>
        public static MergeDecision Decide(SchemaField field, string? classText, string itemText)
        {
            if (classText is null || field.Name == ItemDecides) return MergeDecision.TakeItem;
            return SameValue(field, classText, itemText) ? MergeDecision.Agree : MergeDecision.Conflict;
        }

        private static bool SameValue(SchemaField field, string a, string b)
        {
            if (field.Kind == FieldKind.Map)
            {
                FieldText.TryParseMap(a, out List<KeyValuePair<string, double>> left);
                FieldText.TryParseMap(b, out List<KeyValuePair<string, double>> right);
                return left.OrderBy(p => p.Key, StringComparer.Ordinal).SequenceEqual(right.OrderBy(p => p.Key, StringComparer.Ordinal));
            }
            if (field.Kind == FieldKind.Text && IsPath(field))
                return string.Equals(NormalizePath(a), NormalizePath(b), StringComparison.Ordinal);
            // Numbers, whole numbers and booleans are already in one invariant spelling.
            return string.Equals(a, b, StringComparison.Ordinal);
        }

        private static bool IsPath(SchemaField field) =>
            field.Name.EndsWith("_file", StringComparison.Ordinal) || field.Name.EndsWith("_dir", StringComparison.Ordinal)
            || field.Name == "model_name_or_path" || field.Name == "resume_from_checkpoint";

        private static string NormalizePath(string path)
        {
            string normalized = path.Trim().Replace('\\', '/');
            while (normalized.StartsWith("./", StringComparison.Ordinal)) normalized = normalized.Substring(2);
            return normalized.TrimEnd('/');
        }
    }
}
