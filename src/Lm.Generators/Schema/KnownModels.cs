using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Lm.Schema;

namespace Lm.Generators.Schema
{
    /// <summary>
    /// The models whose family the generator knows, to check an objective against its model at compile time: read
    /// from the architecture table shared with the runtime (src/Shared/Models/ArchitectureTable.cs), whose
    /// registrations a runtime test compares with it.
    /// </summary>
    internal static class KnownModels
    {
        /// <summary>
        /// Model names whose family is known, with the objective that family trains: lm-tune's presets and the
        /// hub ids the table lists.
        /// </summary>
        public static readonly ImmutableDictionary<string, ArchitectureRow> ByName = ArchitectureTable.Rows
            .SelectMany(row => row.Presets.Concat(row.HubIds).Select(name => new KeyValuePair<string, ArchitectureRow>(name, row)))
            .ToImmutableDictionary(StringComparer.OrdinalIgnoreCase);

        /// <summary>The families by <c>model_type</c>.</summary>
        public static readonly ImmutableDictionary<string, ArchitectureRow> ByModelType = ArchitectureTable.Rows
            .ToImmutableDictionary(row => row.ModelType, row => row, StringComparer.Ordinal);
    }
}
