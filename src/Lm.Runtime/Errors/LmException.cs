namespace Lm.Runtime.Errors;

/// <summary>
/// A failure the user can act on. Every one carries a stable <c>LM####</c> code listed in docs/errors.md;
/// front ends (CLI, MSBuild tasks, generator) print the code and message, never a stack trace.
/// </summary>
public sealed class LmException : Exception
{
    public LmException(string code, string message, Exception? inner = null)
        : base(message, inner)
    {
        Code = code;
    }

    /// <summary>The stable error code, e.g. <c>LM0101</c>.</summary>
    public string Code { get; }

    /// <summary>File the error is about, when there is one.</summary>
    public string? File { get; init; }

    /// <summary>1-based line in <see cref="File"/>, when known.</summary>
    public int? Line { get; init; }

    /// <summary>Byte offset in <see cref="File"/>, when known.</summary>
    public long? Offset { get; init; }

    public override string ToString() => $"{Code}: {Message}";
}
