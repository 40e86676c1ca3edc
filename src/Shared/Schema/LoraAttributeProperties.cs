using System.Collections.Generic;
using System.Linq;

namespace Lm.Schema
{
    /// <summary>
    /// The properties of <c>[Lora]</c> (Lm.Runtime.Configuration.LoraAttribute), derived from the schema's rows so the
    /// table stays the one definition: each <c>lora_*</c> field under its C# name without the <c>Lora</c> prefix
    /// (<c>lora_r</c> is <c>R</c>, <c>lora_target_modules</c> is <c>TargetModules</c>), and <c>use_rslora</c> as
    /// <c>UseRslora</c>. <c>use_peft</c> has no property: the attribute's presence sets it.
    /// </summary>
    internal static class LoraAttributeProperties
    {
        /// <summary>The field the attribute's presence sets to true.</summary>
        public const string UsePeft = "use_peft";

        private const string Prefix = "lora_";

        /// <summary>Every field <c>[Lora]</c> sets, with its property name, in schema order.</summary>
        public static readonly IReadOnlyList<KeyValuePair<string, SchemaField>> All = JobSchema.Fields
            .Where(f => f.Section == JobSchema.Model && (f.Name.StartsWith(Prefix, System.StringComparison.Ordinal) || f.Name == "use_rslora"))
            .Select(f => new KeyValuePair<string, SchemaField>(
                f.Name.StartsWith(Prefix, System.StringComparison.Ordinal) ? f.PascalName.Substring("Lora".Length) : f.PascalName, f))
            .ToArray();

        /// <summary>The field set by <c>[Lora]</c>'s <paramref name="property"/>, or null.</summary>
        public static SchemaField? Find(string property) =>
            All.FirstOrDefault(p => p.Key == property).Value;

        /// <summary>The <c>[Lora]</c> property of <paramref name="field"/>, or null when the attribute does not set it.</summary>
        public static string? PropertyOf(SchemaField field) =>
            All.FirstOrDefault(p => ReferenceEquals(p.Value, field)).Key;
    }
}
