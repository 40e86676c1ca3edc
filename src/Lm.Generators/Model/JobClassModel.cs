namespace Lm.Generators.Model
{
    /// <summary>A type declaration the emitter repeats as <c>partial</c>: its keyword (<c>class</c>, <c>record</c>, ...) and name.</summary>
    internal sealed record TypeDeclarationInfo(string Keyword, string Name);

    /// <summary>
    /// What the parser reads from one <c>[FineTuneJob]</c> class: where it is declared, its job name, the values
    /// its attributes set, and the problems found in the class itself.
    /// </summary>
    internal sealed record JobClassModel(
        string? Namespace,
        EquatableArray<TypeDeclarationInfo> ContainingTypes,
        TypeDeclarationInfo Declaration,
        string FullName,
        string JobName,
        LocationInfo? JobNameLocation,
        bool CanHaveMembers,
        EquatableArray<FieldValue> Values,
        EquatableArray<DiagnosticInfo> Diagnostics)
    {
        /// <summary>The launch settings of its <c>[Distributed]</c> attribute (launcher, num_processes, ...), checked.</summary>
        public EquatableArray<FieldValue> Launch { get; init; } = EquatableArray<FieldValue>.Empty;

        /// <summary>The class's simple name (for item <c>Config</c> matching).</summary>
        public string Name => Declaration.Name;
    }
}
