namespace Lm.Runtime.Errors;

/// <summary>
/// The one table of lm-tune error codes, shared by the CLI, the MSBuild tasks and (by value) the generator.
/// docs/errors.md documents each: cause and fix. Ranges: LM00xx platform, LM01xx models and checkpoints,
/// LM02xx tokenizers, LM03xx data, LM04xx training arguments and trainer, LM05xx CLI and hub,
/// LM1xxx generator diagnostics, LM2xxx MSBuild. Each area keeps its constants in its own part of this class
/// (ErrorCodes.Area.cs); the LM1xxx and LM2xxx parts live in src/Shared/Errors, compiled also into the generator
/// and the MSBuild tasks, which cannot load this assembly.
/// </summary>
public static partial class ErrorCodes
{
    /// <summary>libtorch or the TorchSharp bridge could not be loaded.</summary>
    public const string NativeLoadFailed = "LM0001";
}
