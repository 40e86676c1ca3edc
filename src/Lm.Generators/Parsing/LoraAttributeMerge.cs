using System.Collections.Generic;
using System.Linq;
using Lm.Generators.Diagnostics;
using Lm.Generators.Model;
using Lm.Schema;

namespace Lm.Generators.Parsing
{
    /// <summary>
    /// Joins <c>[Lora]</c> with the <c>[FineTuneJob]</c> arguments of the same class. <c>[Lora]</c>'s presence is
    /// <c>use_peft = true</c>; <c>UsePeft = false</c> beside it is a contradiction (LM1051). A LoRA field set both by
    /// <c>[Lora]</c> and by <c>[FineTuneJob(Lora...)]</c> is an error even when the values agree (LM1050): two places
    /// for one value drift apart, and unlike class and item (LM1009) both are in the same declaration, so there is no
    /// reason to keep both. Each diagnostic points at the <c>[Lora]</c> argument.
    /// </summary>
    internal static class LoraAttributeMerge
    {
        public static void Apply(List<FieldValue> values, List<FieldValue> loraValues, LocationInfo? loraAttribute, List<DiagnosticInfo> diagnostics)
        {
            foreach (FieldValue lora in loraValues)
            {
                FieldValue? other = values.FirstOrDefault(v => v.Name == lora.Name);
                if (other is null)
                {
                    values.Add(lora);
                    continue;
                }
                SchemaField field = JobSchema.Find(lora.Name)!;
                // The [FineTuneJob] value stays (one value per field); the diagnostic fails the build anyway.
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.LoraValueSetTwice, lora.Location,
                    lora.Property + " (" + field.Name + ")", field.AttributeProperty));
            }

            FieldValue? usePeft = values.FirstOrDefault(v => v.Name == LoraAttributeProperties.UsePeft);
            if (usePeft is null)
                values.Add(new FieldValue(LoraAttributeProperties.UsePeft, "true", loraAttribute, null, "[Lora]"));
            else if (usePeft.Text != "true")
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.LoraWithUsePeftFalse, usePeft.Location));
        }
    }
}
