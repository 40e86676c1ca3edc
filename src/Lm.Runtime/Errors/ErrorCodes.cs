namespace Lm.Runtime.Errors;

/// <summary>
/// The one table of lm-tune error codes, shared by the CLI, the MSBuild tasks and (by value) the generator.
/// docs/errors.md documents each: cause and fix. Ranges: LM00xx platform, LM01xx models and checkpoints,
/// LM02xx tokenizers, LM03xx data, LM04xx training arguments and trainer, LM05xx CLI and hub,
/// LM1xxx generator diagnostics, LM2xxx MSBuild.
/// </summary>
public static class ErrorCodes
{
    public const string NativeLoadFailed = "LM0001";
}
