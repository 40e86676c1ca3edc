namespace Lm.Generators.Parsing
{
    /// <summary>The attributes users write (declared in Lm.Runtime.Configuration) and the schema section each sets.</summary>
    internal static class AttributeNames
    {
        public const string FineTuneJob = "Lm.Runtime.Configuration.FineTuneJobAttribute";
        public const string TextDataset = "Lm.Runtime.Configuration.TextDatasetAttribute";
        public const string Training = "Lm.Runtime.Configuration.TrainingAttribute";
        public const string ChatDataset = "Lm.Runtime.Configuration.ChatDatasetAttribute";
        // [Lora] sets model fields under its own property names (LoraAttributeProperties), not their AttributeProperty.
        public const string Lora = "Lm.Runtime.Configuration.LoraAttribute";
        /// <summary>Launch settings, not schema fields (DistributedParser); SectionOf is null for it.</summary>
        public const string Distributed = "Lm.Runtime.Configuration.DistributedAttribute";

        /// <summary>The schema section of an attribute's named arguments, or null for other attributes.</summary>
        public static string? SectionOf(string metadataName)
        {
            switch (metadataName)
            {
                case FineTuneJob: return Lm.Schema.JobSchema.Model;
                case TextDataset: return Lm.Schema.JobSchema.Data;
                case ChatDataset: return Lm.Schema.JobSchema.Data;
                case Training: return Lm.Schema.JobSchema.Training;
                case Lora: return Lm.Schema.JobSchema.Model;
                default: return null;
            }
        }
    }
}
