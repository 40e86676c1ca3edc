using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using Lm.Generators.Diagnostics;
using Lm.Generators.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Lm.Generators.Parsing
{
    /// <summary>
    /// Reads and checks a class's <c>[Distributed]</c> attribute (docs/scale-out.md): the launch settings the build
    /// passes to <c>lm-tune export</c>, under the snake_case names of the compiled configuration's <c>launch</c>
    /// object. They are not schema fields (no job file carries them), so they are checked here, each at its argument.
    /// </summary>
    internal static class DistributedParser
    {
        private static readonly Dictionary<string, string> Names = new Dictionary<string, string>
        {
            ["NumProcesses"] = "num_processes",
            ["NumMachines"] = "num_machines",
            ["Fsdp"] = "fsdp",
            ["Deepspeed"] = "deepspeed",
            ["Launcher"] = "launcher",
        };

        public static EquatableArray<FieldValue> Parse(INamedTypeSymbol symbol, List<DiagnosticInfo> diagnostics, CancellationToken cancellationToken)
        {
            AttributeData? attribute = symbol.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == AttributeNames.Distributed);
            if (attribute is null) return EquatableArray<FieldValue>.Empty;
            var syntax = attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken) as AttributeSyntax;
            var values = new List<FieldValue>();
            string? fsdp = null, deepspeed = null;
            LocationInfo? deepspeedLocation = null;
            foreach (KeyValuePair<string, TypedConstant> argument in attribute.NamedArguments)
            {
                if (!Names.TryGetValue(argument.Key, out string? name)) continue;
                LocationInfo? location = LocationInfo.From(
                    syntax?.ArgumentList?.Arguments.FirstOrDefault(a => a.NameEquals?.Name.Identifier.ValueText == argument.Key) ?? (SyntaxNode?)syntax);
                string? text = argument.Value.Value switch
                {
                    int i => i.ToString(CultureInfo.InvariantCulture),
                    bool b => b ? "true" : "false",
                    string s => s.Trim(),
                    _ => null,
                };
                if (text is null) continue;
                string? expected = argument.Key switch
                {
                    "NumProcesses" or "NumMachines" when (int)argument.Value.Value! < 1 => "at least 1",
                    "Deepspeed" when text != "zero2" && text != "zero3" => "zero2 or zero3 (DeepSpeed's ZeRO stage)",
                    "Launcher" when text != "train" && text != "export" => "train or export",
                    _ => null,
                };
                if (expected is not null)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.DistributedValueInvalid, location, argument.Key, expected,
                        argument.Value.Value is string ? "'" + text + "'" : text));
                    continue;
                }
                if (argument.Key == "Fsdp") fsdp = text;
                if (argument.Key == "Deepspeed")
                {
                    deepspeed = text;
                    deepspeedLocation = location;
                }
                values.Add(new FieldValue(name, text, location, null));
            }
            if (fsdp == "true" && deepspeed is not null)
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.DistributedShardingConflict, deepspeedLocation, deepspeed));
            return values.ToEquatableArray();
        }

        /// <summary>The values as the JSON object the build reads (<c>"launch": {...}</c>): numbers and booleans bare, text quoted.</summary>
        public static string Json(EquatableArray<FieldValue> values) =>
            "{" + string.Join(",", values.Select(v => Lm.Schema.FieldText.JsonString(v.Name) + ":"
                + (v.Name is "deepspeed" or "launcher" ? Lm.Schema.FieldText.JsonString(v.Text) : v.Text))) + "}";
    }
}
