namespace Lm.Runtime.Jobs;

/// <summary>
/// The resolved configuration of one attributed config class, compiled into the user's assembly so the MSBuild
/// fine-tune target can read it after compilation without loading the assembly (it reads this attribute's
/// arguments with System.Reflection.Metadata).
/// </summary>
/// <remarks>
/// The source generator emits one per config class:
/// <code>
/// [assembly: global::Lm.Runtime.Jobs.FineTuneJobConfiguration("wiki-gpt2", "{\"learning_rate\":3e-05,\"block_size\":128}", ConfigType = "MyApp.WikiGpt2")]
/// </code>
/// A <c>&lt;LanguageModelFineTune Config="WikiGpt2"/&gt;</c> item picks the attribute whose <see cref="ConfigType"/>
/// is that name (full name, or simple name when it is unique), else the one whose <see cref="JobName"/> is it.
/// Item metadata fills what <see cref="Json"/> leaves unset; a value set in both must agree (LM1009).
/// </remarks>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true, Inherited = false)]
public sealed class FineTuneJobConfigurationAttribute : Attribute
{
    /// <param name="jobName">The job the class configures: the item identity it is meant for, or the class name.</param>
    /// <param name="json">A flat JSON object with the schema's HF snake_case names (<see cref="FineTuneJob.Fields"/>), only the values the class sets.</param>
    public FineTuneJobConfigurationAttribute(string jobName, string json)
    {
        JobName = jobName;
        Json = json;
    }

    /// <summary>The job the class configures: the item identity it is meant for, or the class name.</summary>
    public string JobName { get; }

    /// <summary>
    /// Flat JSON object with HF snake_case names; only the values the class sets. A class with <c>[Distributed]</c>
    /// adds its launch settings as one nested <c>"launch"</c> object (not a job field: remove it before
    /// <see cref="FineTuneJob.FromJson(System.Text.Json.Nodes.JsonObject)"/>).
    /// </summary>
    public string Json { get; }

    /// <summary>The config class's full C# name without <c>global::</c> (<c>MyApp.WikiGpt2</c>; nested: <c>MyApp.Outer.Inner</c>).</summary>
    public string? ConfigType { get; set; }
}
