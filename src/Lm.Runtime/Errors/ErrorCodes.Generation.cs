namespace Lm.Runtime.Errors;

public static partial class ErrorCodes
{
    /// <summary>The prompt (the longest of a batch) already reaches <c>max_length</c>: no token is left to generate (HF raises the same).</summary>
    public const string PromptReachesMaxLength = "LM0170";
    /// <summary>Prompts of different lengths need left padding, but neither a pad token id nor an eos token id is known.</summary>
    public const string NoPadTokenForBatch = "LM0171";
    /// <summary>The prompt file of <c>generate --file</c> cannot be read or holds no prompt.</summary>
    public const string PromptFileUnusable = "LM0172";
}
