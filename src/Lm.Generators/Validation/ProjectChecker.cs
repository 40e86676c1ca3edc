using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Lm.Generators.Diagnostics;
using Lm.Generators.Model;
using Lm.Generators.Resolution;

namespace Lm.Generators.Validation
{
    /// <summary>
    /// Checks that need every class and item of the project at once: duplicate job names, items whose Config names
    /// no class (or a class of another job), classes no item trains, and item metadata that cannot be read. Items
    /// that no class configures are checked on their own, as the command line would check them.
    /// </summary>
    internal static class ProjectChecker
    {
        public static EquatableArray<DiagnosticInfo> Check(ImmutableArray<JobClassModel> classes, ImmutableArray<JobItemModel> items)
        {
            var diagnostics = new List<DiagnosticInfo>();

            var firstByName = new Dictionary<string, JobClassModel>(StringComparer.Ordinal);
            foreach (JobClassModel jobClass in classes)
            {
                if (jobClass.JobName.Length == 0) continue;
                if (firstByName.TryGetValue(jobClass.JobName, out JobClassModel? first))
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.DuplicateJobName, jobClass.JobNameLocation, jobClass.JobName, first.FullName));
                else
                    firstByName.Add(jobClass.JobName, jobClass);
            }

            foreach (JobItemModel item in items)
            {
                diagnostics.AddRange(item.Diagnostics);
                JobClassModel? configured = null;
                if (item.ConfigClass is not null)
                {
                    JobClassModel[] named = classes.Where(c => JobResolver.Names(item.ConfigClass, c)).ToArray();
                    configured = named.FirstOrDefault();
                    if (named.Length > 1)
                        diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.AmbiguousConfigClass, null, item.Name, item.ConfigClass,
                            string.Join(", ", named.Select(c => c.FullName))));
                    else if (configured is null)
                        diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ItemWithoutClass, null, item.Name, item.ConfigClass));
                    else if (!string.Equals(configured.JobName, item.Name, StringComparison.Ordinal))
                        diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ItemJobNameMismatch, configured.JobNameLocation,
                            item.Name, item.ConfigClass, configured.JobName));
                }
                else
                {
                    configured = classes.FirstOrDefault(c => string.Equals(c.JobName, item.Name, StringComparison.Ordinal));
                }
                if (configured is null) diagnostics.AddRange(JobValidator.Validate(item.Values.ToImmutableArray()));
            }

            if (!items.IsEmpty)
            {
                foreach (JobClassModel jobClass in classes)
                {
                    if (JobResolver.ItemFor(jobClass, items) is null)
                        diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ClassWithoutItem, jobClass.JobNameLocation, jobClass.FullName, jobClass.JobName));
                }
            }
            return diagnostics.ToEquatableArray();
        }
    }
}
