namespace Lm.Runtime.Configuration;

/// <summary>
/// How a fine-tune job runs when it outgrows one machine (docs/scale-out.md): the settings of <c>lm-tune export</c>
/// (<c>--num-processes</c>, <c>--num-machines</c>, <c>--fsdp</c>, <c>--deepspeed</c>) and the build's launcher. Goes
/// with <see cref="FineTuneJobAttribute"/> on the same class; the source generator checks the values at compile time
/// (LM1060, LM1061) and the build merges them with the item's metadata of the same names, as for every other setting.
/// None of them is a job-file argument: <c>lm-tune train</c> runs one process on one machine.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class DistributedAttribute : Attribute
{
    /// <summary>Processes (GPUs) per machine of the exported run; at least 1.</summary>
    public int NumProcesses { get; set; }

    /// <summary>Machines (nodes) of the exported run; at least 1.</summary>
    public int NumMachines { get; set; }

    /// <summary>Fully sharded data parallel (<c>TrainingArguments.fsdp = "full_shard auto_wrap"</c>); not with <see cref="Deepspeed"/>.</summary>
    public bool Fsdp { get; set; }

    /// <summary>DeepSpeed ZeRO stage: <c>zero2</c> or <c>zero3</c>; not with <see cref="Fsdp"/>.</summary>
    public string? Deepspeed { get; set; }

    /// <summary>What the build does with the job: <c>train</c> it here (the default) or <c>export</c> it to a folder that runs it with accelerate or torchrun.</summary>
    public string? Launcher { get; set; }
}
