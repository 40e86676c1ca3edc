namespace Lm.Generators.Model
{
    /// <summary>
    /// One argument a job sets: its HF name, its value as culture-invariant text (<c>2E-05</c>, <c>128</c>,
    /// <c>true</c>, <c>epoch</c>, <c>power=2</c>), and where it comes from: a class's attribute argument
    /// (<see cref="Location"/>) or a <c>&lt;LanguageModelFineTune&gt;</c> item's metadata (<see cref="ItemName"/>).
    /// <see cref="Property"/> is the attribute property that set it when that is not the schema's
    /// <c>AttributeProperty</c> (<c>[Lora(R = 8)]</c> sets <c>lora_r</c>), for messages.
    /// </summary>
    internal sealed record FieldValue(string Name, string Text, LocationInfo? Location, string? ItemName, string? Property = null)
    {
        public bool FromItem => ItemName is not null;
    }
}
