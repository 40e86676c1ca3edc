using System.Globalization;

namespace Lm.Generators.Schema
{
    /// <summary>The kind of value a schema field holds (as Lm.Runtime's <c>JobFieldKind</c>).</summary>
    internal enum FieldKind
    {
        Text,
        Integer,
        Number,
        Boolean,
        Map,
    }

    /// <summary>An interval of allowed numbers, open or closed at each end.</summary>
    internal sealed class ValueRange
    {
        public static readonly ValueRange Positive = new ValueRange(0, false, null, false);
        public static readonly ValueRange NonNegative = new ValueRange(0, true, null, false);
        public static readonly ValueRange UnitOpen = new ValueRange(0, false, 1, false);
        public static readonly ValueRange UnitClosed = new ValueRange(0, true, 1, true);
        public static readonly ValueRange UnitHalfOpen = new ValueRange(0, true, 1, false);
        public static readonly ValueRange Percentage = new ValueRange(0, true, 100, false);

        public ValueRange(double? min, bool minInclusive, double? max, bool maxInclusive)
        {
            Min = min;
            MinInclusive = minInclusive;
            Max = max;
            MaxInclusive = maxInclusive;
        }

        public double? Min { get; }
        public bool MinInclusive { get; }
        public double? Max { get; }
        public bool MaxInclusive { get; }

        public bool IsPositive => Min == 0 && !MinInclusive && Max is null;

        public bool Contains(double value)
        {
            if (double.IsNaN(value) || double.IsInfinity(value)) return false;
            if (Min is double min && (MinInclusive ? value < min : value <= min)) return false;
            if (Max is double max && (MaxInclusive ? value > max : value >= max)) return false;
            return true;
        }

        /// <summary>The interval as a message says it: <c>in (0, 1)</c>, <c>in [0, 100)</c>, <c>&gt;= 0</c>.</summary>
        public string Describe()
        {
            if (Max is null) return (MinInclusive ? ">= " : "> ") + Format(Min!.Value);
            return "in " + (MinInclusive ? "[" : "(") + Format(Min!.Value) + ", " + Format(Max.Value) + (MaxInclusive ? "]" : ")");
        }

        private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// One field of the fine-tune schema as the generator knows it: HF name, section, kind, whether it may be unset,
    /// its C# (and MSBuild metadata) name, the attribute property that sets it, HF's default (JSON text; null when
    /// unset by default) and what values it accepts.
    /// </summary>
    internal sealed class KnownField
    {
        public KnownField(string name, string section, FieldKind kind, bool nullable, string pascalName, string? defaultJson,
            ValueRange? range = null, string[]? choices = null, string? attributeProperty = null, bool stepCount = false)
        {
            Name = name;
            Section = section;
            Kind = kind;
            Nullable = nullable;
            PascalName = pascalName;
            DefaultJson = defaultJson;
            Range = range;
            Choices = choices;
            AttributeProperty = attributeProperty ?? pascalName;
            IsStepCount = stepCount;
        }

        /// <summary>HF snake_case name (<c>learning_rate</c>): the JSON key and, kebab-cased, the CLI flag.</summary>
        public string Name { get; }

        /// <summary><c>model</c>, <c>data</c> or <c>training</c>: the Lm.Runtime arguments class that declares it.</summary>
        public string Section { get; }

        public FieldKind Kind { get; }

        /// <summary>Whether the runtime property is nullable (unset means "HF decides").</summary>
        public bool Nullable { get; }

        /// <summary>The runtime property and MSBuild metadata name (<c>LearningRate</c>).</summary>
        public string PascalName { get; }

        /// <summary>The property of the section's attribute that sets it (<c>Model</c> for <c>model_name_or_path</c>).</summary>
        public string AttributeProperty { get; }

        /// <summary>HF's default as JSON text; null when the default is "not set".</summary>
        public string? DefaultJson { get; }

        public ValueRange? Range { get; }

        /// <summary>A step interval as HF reads it: below 1 a ratio of the total steps, above 1 a whole number of steps.</summary>
        public bool IsStepCount { get; }

        /// <summary>The accepted values of a text field; null when any text is accepted.</summary>
        public string[]? Choices { get; }
    }
}
