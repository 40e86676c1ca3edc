namespace Lm.Runtime.Errors;

public static partial class ErrorCodes
{
    /// <summary>A job argument has a value out of its range or not among its choices.</summary>
    public const string InvalidArgument = "LM0401";
    /// <summary>A job configuration names an argument that does not exist.</summary>
    public const string UnknownArgument = "LM0402";
    /// <summary>A job argument's value has the wrong type (text where a number is expected, ...).</summary>
    public const string ArgumentTypeMismatch = "LM0403";
    /// <summary>The job configuration file is missing or not valid JSON.</summary>
    public const string JobConfigUnreadable = "LM0404";
}
