using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lm.Tasks.Jobs;

/// <summary>
/// How the build runs a job, apart from the job itself (docs/scale-out.md): <c>train</c> it with lm-tune (the default),
/// <c>export</c> it to a folder that runs it with the Python stack under accelerate or torchrun, or adopt a result
/// trained elsewhere (<c>ResultDir</c>). The distributed settings (<c>NumProcesses</c>, <c>NumMachines</c>,
/// <c>Fsdp</c>, <c>Deepspeed</c>) are <c>lm-tune export</c>'s flags. None of this is part of the job file, which stays
/// the arguments <c>train</c>, <c>evaluate</c> and <c>adopt</c> read; the export's up-to-date key adds these settings.
/// </summary>
internal sealed record LaunchSettings
{
    public const string Train = "train";
    public const string Export = "export";

    /// <summary>The key of a config class's launch settings in its compiled configuration (the <c>[Distributed]</c> attribute).</summary>
    public const string ClassConfigurationKey = "launch";

    /// <summary>The item metadata these settings read (never schema fields, so never "did you mean" warnings).</summary>
    public static readonly string[] MetadataNames = ["Launcher", "ExportDir", "ResultDir", "NumProcesses", "NumMachines", "Fsdp", "Deepspeed"];

    /// <summary><c>train</c> or <c>export</c>.</summary>
    public string Launcher { get; init; } = Train;

    /// <summary>Processes (GPUs) per machine of the exported run.</summary>
    public int NumProcesses { get; init; } = 1;

    /// <summary>Machines (nodes) of the exported run.</summary>
    public int NumMachines { get; init; } = 1;

    /// <summary>Fully sharded data parallel in the exported run.</summary>
    public bool Fsdp { get; init; }

    /// <summary><c>zero2</c>, <c>zero3</c> or null.</summary>
    public string? Deepspeed { get; init; }

    /// <summary>The folder <c>Launcher="export"</c> writes (absolute).</summary>
    public string ExportDir { get; init; } = "";

    /// <summary>A run made elsewhere that the build adopts instead of training (absolute), or null.</summary>
    public string? ResultDir { get; init; }

    public bool IsExport => Launcher == Export;

    /// <summary><c>lm-tune export</c>'s flags for these settings.</summary>
    public IReadOnlyList<string> ExportArguments()
    {
        var arguments = new List<string>
        {
            "--num-processes", NumProcesses.ToString(CultureInfo.InvariantCulture),
            "--num-machines", NumMachines.ToString(CultureInfo.InvariantCulture),
        };
        if (Fsdp) arguments.Add("--fsdp");
        if (Deepspeed is not null) arguments.AddRange(["--deepspeed", Deepspeed]);
        return arguments;
    }

    /// <summary>What the up-to-date key adds to the job's own lines: the launcher and its settings.</summary>
    public IReadOnlyList<string> KeyLines() =>
        IsExport ? ["launcher export " + string.Join(" ", ExportArguments())] : [];

    /// <summary>
    /// Reads the settings a config class compiled (<c>"launch": {"launcher": ..., "num_processes": ...}</c>) into
    /// metadata-named text, so the item's metadata merges with them by one rule.
    /// </summary>
    public static Dictionary<string, string> FromClassConfiguration(JsonObject? launch)
    {
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (launch is null) return values;
        foreach (var (key, value) in launch)
        {
            if (value is not JsonValue scalar) continue;
            string name = string.Concat(key.Split('_').Select(part => part.Length == 0 ? part : char.ToUpperInvariant(part[0]) + part[1..]));
            values[name] = scalar.GetValueKind() switch
            {
                JsonValueKind.String => scalar.GetValue<string>(),
                JsonValueKind.True => "true",
                JsonValueKind.False => "false",
                _ => scalar.ToJsonString(),
            };
        }
        return values;
    }
}
