using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Lm.Generators.Diagnostics;
using Lm.Generators.Model;
using Lm.Generators.Validation;
using Lm.Schema;

namespace Lm.Generators.Resolution
{
    /// <summary>
    /// Joins a <c>[FineTuneJob]</c> class with its <c>&lt;LanguageModelFineTune&gt;</c> item. An item belongs to the
    /// class its <c>Config</c> metadata names (full or simple name), or, without <c>Config</c>, to the class whose job
    /// name is the item's identity. The item's values fill what the class leaves unset; a value set in both places
    /// must agree.
    /// </summary>
    internal static class JobResolver
    {
        private const string OutputDirField = ItemMerge.ItemDecides;

        public static ResolvedJob Resolve(JobClassModel jobClass, ImmutableArray<JobItemModel> items)
        {
            JobItemModel? item = ItemFor(jobClass, items);
            var values = new List<FieldValue>(jobClass.Values);
            var diagnostics = new List<DiagnosticInfo>(jobClass.Diagnostics);
            if (item is not null)
            {
                foreach (FieldValue itemValue in item.Values)
                {
                    FieldValue? classValue = jobClass.Values.FirstOrDefault(v => v.Name == itemValue.Name);
                    switch (ItemMerge.Decide(JobSchema.Find(itemValue.Name)!, classValue?.Text, itemValue.Text))
                    {
                        case MergeDecision.TakeItem when classValue is null:
                            values.Add(itemValue);
                            break;
                        case MergeDecision.Conflict:
                            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ItemValueConflict, classValue!.Location,
                                JobValidator.DisplayName(classValue), Quote(classValue.Text), jobClass.FullName, Quote(itemValue.Text), item.Name));
                            break;
                        // output_dir set by both: the item's (the build always gives one), reported below as LM1018.
                    }
                }
            }
            if (item is not null && jobClass.Values.FirstOrDefault(v => v.Name == OutputDirField) is { } classOutputDir)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.OutputDirInClassOfItem, classOutputDir.Location,
                    jobClass.FullName, item.Name));
            }
            FieldValue[] ordered = values.OrderBy(v => JobSchema.IndexOf(v.Name)).ToArray();
            diagnostics.AddRange(JobValidator.Validate(ordered));
            return new ResolvedJob(jobClass, ordered.ToEquatableArray(), diagnostics.ToEquatableArray());
        }

        /// <summary>The item that trains <paramref name="jobClass"/>, or null.</summary>
        public static JobItemModel? ItemFor(JobClassModel jobClass, ImmutableArray<JobItemModel> items) =>
            items.FirstOrDefault(item => item.ConfigClass is not null
                ? Names(item.ConfigClass, jobClass)
                : string.Equals(item.Name, jobClass.JobName, StringComparison.Ordinal));

        /// <summary>Whether an item's <c>Config</c> text names <paramref name="jobClass"/>.</summary>
        public static bool Names(string config, JobClassModel jobClass)
        {
            string name = config.StartsWith("global::", StringComparison.Ordinal) ? config.Substring("global::".Length) : config;
            return string.Equals(name, jobClass.FullName, StringComparison.Ordinal)
                || string.Equals(name, jobClass.Name, StringComparison.Ordinal);
        }

        private static string Quote(string text) => "'" + text + "'";
    }
}
