namespace Lm.Generators.Model
{
    /// <summary>
    /// A <c>&lt;LanguageModelFineTune&gt;</c> item as the compiler sees it: its identity (the job name), the class its
    /// <c>Config</c> metadata names, the schema values its metadata sets, and metadata that could not be read.
    /// </summary>
    internal sealed record JobItemModel(
        string Name,
        string? ConfigClass,
        EquatableArray<FieldValue> Values,
        EquatableArray<DiagnosticInfo> Diagnostics);
}
