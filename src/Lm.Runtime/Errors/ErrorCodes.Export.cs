namespace Lm.Runtime.Errors;

public static partial class ErrorCodes
{
    /// <summary><c>lm-tune export</c>: the job sets a value run_clm.py/run_mlm.py and TrainingArguments cannot express.</summary>
    public const string ExportUnexpressible = "LM0960";
    /// <summary><c>lm-tune export</c>: the export folder exists and is not empty.</summary>
    public const string ExportFolderNotEmpty = "LM0961";
    /// <summary><c>lm-tune export</c>: an export option is out of range or two options conflict.</summary>
    public const string ExportOptionInvalid = "LM0962";
    /// <summary><c>lm-tune adopt</c>: the result folder is missing or its results/state files are unreadable.</summary>
    public const string ResultFolderInvalid = "LM0963";
}
