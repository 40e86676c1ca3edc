namespace Lm.Runtime.Errors;

// LM2xxx: the MSBuild tasks. Lm.Tasks cannot reference Lm.Runtime (libtorch must never load in the MSBuild node), so
// this part of the table is compiled into both (src/Shared): public in Lm.Runtime, internal in Lm.Tasks.
static partial class ErrorCodes
{
    /// <summary>A <c>LanguageModelFineTune</c> item has no <c>Model</c> (and its config class sets none).</summary>
    public const string FineTuneItemMissingModel = "LM2001";
    /// <summary>A <c>LanguageModelFineTune</c> item has no <c>TrainFile</c> (and its config class sets none).</summary>
    public const string FineTuneItemMissingTrainFile = "LM2002";
    /// <summary>A train or validation file named by an item does not exist.</summary>
    public const string FineTuneDataFileNotFound = "LM2003";
    /// <summary>An item's <c>Config</c> names a class that has no fine-tune configuration in the compiled assembly.</summary>
    public const string FineTuneConfigNotFound = "LM2004";
    /// <summary>An item metadata value does not fit its schema field (<c>LearningRate="fast"</c>).</summary>
    public const string FineTuneMetadataInvalid = "LM2005";
    /// <summary>Two <c>LanguageModelFineTune</c> items have the same identity.</summary>
    public const string FineTuneDuplicateJob = "LM2006";
    /// <summary>A job's output folder is, contains or lies inside another job's output folder.</summary>
    public const string FineTuneOutputOverlap = "LM2007";
    /// <summary>A job's output folder lies in the source tree (the project folder outside obj/ and bin/) or holds its inputs.</summary>
    public const string FineTuneOutputInSourceTree = "LM2008";
    /// <summary>The lm-tune tool was not found (LmToolPath, PATH, ~/.dotnet/tools).</summary>
    public const string FineTuneToolNotFound = "LM2009";
    /// <summary>Another build held the job's output lock longer than LmLockTimeoutSeconds.</summary>
    public const string FineTuneOutputLocked = "LM2010";
    /// <summary>lm-tune failed without reporting an LM error, or its stdout was not one JSON object.</summary>
    public const string FineTuneToolFailed = "LM2011";
    /// <summary>An item metadata name looks like a misspelt schema field (warning).</summary>
    public const string FineTuneUnknownMetadata = "LM2012";
    /// <summary>Training was cancelled; the last checkpoint stays in the output folder.</summary>
    public const string FineTuneCancelled = "LM2013";
    /// <summary>A job's output folder holds files and no lm-tune marker of this job at this path: it is never emptied.</summary>
    public const string FineTuneOutputNotOwned = "LM2020";
    /// <summary>An item's <c>ModelType</c> is not a model type lm-tune builds (the architecture table's).</summary>
    public const string FineTuneUnknownModelType = "LM2030";

    // Launchers (docs/scale-out.md): an item exported for a cluster instead of trained, or adopted from a ResultDir.
    /// <summary>An item's <c>Launcher</c> (or <c>$(LmLauncher)</c>) is not <c>train</c> or <c>export</c>.</summary>
    public const string FineTuneLauncherUnknown = "LM2080";
    /// <summary>An item's <c>ResultDir</c> does not exist or is not a folder.</summary>
    public const string FineTuneResultDirNotFound = "LM2081";
    /// <summary>Launch settings that do not fit: <c>NumProcesses</c>/<c>NumMachines</c> below 1, <c>Fsdp</c> with
    /// <c>Deepspeed</c>, a <c>Deepspeed</c> other than zero2/zero3, or <c>ResultDir</c> with <c>Launcher="export"</c>.</summary>
    public const string FineTuneLaunchSettingsInvalid = "LM2082";
    /// <summary>An item's export folder holds files the build did not write (no export stamp): it is never emptied.</summary>
    public const string FineTuneExportDirNotOwned = "LM2083";

    // Packaging and versions (Lm.Build, lm-tune and Lm.Runtime released together).
    /// <summary><c>lm-tune --version</c> is not the version of the Lm.Build package that runs it.</summary>
    public const string FineTuneToolVersionMismatch = "LM2060";
    /// <summary><c>lm-tune --version</c> failed or printed no version.</summary>
    public const string FineTuneToolVersionUnknown = "LM2061";
    /// <summary>A project using Lm.Build targets a framework older than net10.0 (reported by Lm.Build.targets).</summary>
    public const string FineTuneTargetFrameworkUnsupported = "LM2062";
}
