namespace Lm.Tasks.Errors;

/// <summary>
/// The LM2xxx codes of <c>Lm.Runtime.Errors.ErrorCodes</c>, repeated here because the tasks must not load
/// Lm.Runtime (and with it TorchSharp) into the MSBuild node. A test asserts every constant equals the runtime's
/// constant of the same name; docs/errors.md documents each code.
/// </summary>
internal static class TaskErrorCodes
{
    public const string FineTuneItemMissingModel = "LM2001";
    public const string FineTuneItemMissingTrainFile = "LM2002";
    public const string FineTuneDataFileNotFound = "LM2003";
    public const string FineTuneConfigNotFound = "LM2004";
    public const string FineTuneMetadataInvalid = "LM2005";
    public const string FineTuneDuplicateJob = "LM2006";
    public const string FineTuneOutputOverlap = "LM2007";
    public const string FineTuneOutputInSourceTree = "LM2008";
    public const string FineTuneToolNotFound = "LM2009";
    public const string FineTuneOutputLocked = "LM2010";
    public const string FineTuneToolFailed = "LM2011";
    public const string FineTuneUnknownMetadata = "LM2012";
    public const string FineTuneCancelled = "LM2013";
    public const string FineTuneOutputNotOwned = "LM2020";
}
