namespace Lm.Generators.Model
{
    /// <summary>
    /// A class joined with its item: the values the generated members apply (the class's, plus the item's where the
    /// class sets none) and every diagnostic about this job.
    /// </summary>
    internal sealed record ResolvedJob(
        JobClassModel Class,
        EquatableArray<FieldValue> Values,
        EquatableArray<DiagnosticInfo> Diagnostics);
}
