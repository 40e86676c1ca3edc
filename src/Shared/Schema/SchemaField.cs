using System.Globalization;

namespace Lm.Schema
{
    /// <summary>The kind of value a schema field holds (Lm.Runtime's public <c>JobFieldKind</c> has the same members).</summary>
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
    /// One field of the fine-tune schema: HF name, section, kind, HF's default (JSON text; null when unset by
    /// default, which is also what makes a field nullable) and what values it accepts. The C# property, MSBuild
    /// metadata and CLI flag names all derive from the HF name.
    /// </summary>
    internal sealed class SchemaField
    {
        public SchemaField(string name, string section, FieldKind kind, string? defaultJson,
            ValueRange? range = null, string[]? choices = null, string? attributeProperty = null, bool stepCount = false, bool secret = false)
        {
            Name = name;
            Section = section;
            Kind = kind;
            DefaultJson = defaultJson;
            Range = range;
            Choices = choices;
            PascalName = ToPascal(name);
            AttributeProperty = attributeProperty ?? PascalName;
            IsStepCount = stepCount;
            IsSecret = secret;
        }

        /// <summary>HF snake_case name (<c>learning_rate</c>): the JSON key and, kebab-cased, the CLI flag.</summary>
        public string Name { get; }

        /// <summary><c>model</c>, <c>data</c> or <c>training</c>: the Lm.Runtime arguments class that declares it.</summary>
        public string Section { get; }

        public FieldKind Kind { get; }

        /// <summary>Whether the field may be unset (the runtime property is nullable and "unset" means HF decides).</summary>
        public bool Nullable => DefaultJson is null;

        /// <summary>
        /// The runtime property and MSBuild metadata name: each <c>_</c>-separated part capitalised
        /// (<c>per_device_train_batch_size</c> → <c>PerDeviceTrainBatchSize</c>).
        /// </summary>
        public string PascalName { get; }

        /// <summary>The property of the section's attribute that sets it (<c>Model</c> for <c>model_name_or_path</c>).</summary>
        public string AttributeProperty { get; }

        /// <summary>HF's default as JSON text; null when the default is "not set".</summary>
        public string? DefaultJson { get; }

        public ValueRange? Range { get; }

        /// <summary>A step interval as HF reads it: below 1 a ratio of the total steps, above 1 a whole number of steps.</summary>
        public bool IsStepCount { get; }

        /// <summary>
        /// A credential (<c>hub_token</c>): never echoed in a message, and no attribute property, since an attribute's
        /// values are compiled into the user's assembly and ship with the app. It comes from the environment, the
        /// command line or item metadata fed by an environment variable.
        /// </summary>
        public bool IsSecret { get; }

        /// <summary>The accepted values of a text field; null when any text is accepted.</summary>
        public string[]? Choices { get; }

        /// <summary>What a value must look like, for messages (<c>a whole number</c>, <c>true or false</c>).</summary>
        public string Expected => Kind switch
        {
            FieldKind.Integer => "a whole number",
            FieldKind.Number => "a number",
            FieldKind.Boolean => "true or false",
            FieldKind.Map => "key=number pairs separated by commas",
            _ => "text",
        };

        private static string ToPascal(string name)
        {
            var pascal = new System.Text.StringBuilder(name.Length);
            foreach (string part in name.Split('_'))
            {
                if (part.Length == 0) continue;
                pascal.Append(char.ToUpperInvariant(part[0])).Append(part, 1, part.Length - 1);
            }
            return pascal.ToString();
        }
    }
}
