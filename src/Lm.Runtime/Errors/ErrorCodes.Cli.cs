namespace Lm.Runtime.Errors;

public static partial class ErrorCodes
{
    /// <summary><c>--model</c> is not a folder, a preset name, a cached hub model, or (offline) anything that can be downloaded.</summary>
    public const string ModelNotFound = "LM0501";
    /// <summary>The hub answered that the repository does not exist, or that it needs a token it did not get.</summary>
    public const string HubRepositoryNotFound = "LM0502";
    /// <summary>A file the model needs (config.json, safetensors weights) is not in the hub repository.</summary>
    public const string HubFileMissing = "LM0503";
    /// <summary>A download failed after its retries (network error or an HTTP error status).</summary>
    public const string HubDownloadFailed = "LM0504";
    /// <summary>A downloaded file does not match the checksum the hub announced (its ETag).</summary>
    public const string HubChecksumMismatch = "LM0505";
    /// <summary>The output folder is not empty and <c>--overwrite-output-dir</c> was not given.</summary>
    public const string OutputDirNotEmpty = "LM0506";
    /// <summary>The output folder cannot be created or written.</summary>
    public const string OutputDirNotWritable = "LM0507";
    /// <summary><c>--block-size</c> exceeds the number of positions the model can attend to.</summary>
    public const string BlockSizeTooLarge = "LM0508";
    /// <summary><c>fill-mask</c> text holds no mask token.</summary>
    public const string NoMaskToken = "LM0509";
    /// <summary>The command does not fit the model's objective (<c>generate</c> on a masked LM, <c>fill-mask</c> on a causal LM).</summary>
    public const string WrongModelKind = "LM0510";
    /// <summary>A command's own option is out of range (<c>--max-new-tokens 0</c>, <c>--top-p 2</c>).</summary>
    public const string InvalidOption = "LM0511";
    /// <summary>The bundled quick start data could not be found.</summary>
    public const string QuickstartDataMissing = "LM0512";
    /// <summary>A command was cancelled (Ctrl+C) before training started or outside it: nothing was saved.</summary>
    public const string CommandCancelled = "LM0513";
    /// <summary>
    /// A name from outside (a hub's answer, a JSON file, a flag) that would become part of a path is not a plain
    /// relative name: rooted, <c>..</c>, control characters, backslash, drive letter, or it leads out of its folder.
    /// </summary>
    public const string UnsafePathName = "LM0520";
    /// <summary>A commit id (the hub's <c>X-Repo-Commit</c>, a cached <c>refs/</c> file) is not 40 lowercase hex digits.</summary>
    public const string InvalidCommitId = "LM0521";
    /// <summary><c>--model-revision</c> is not a branch, tag or commit name.</summary>
    public const string InvalidRevision = "LM0522";
    /// <summary>A hub token would be sent in clear text: <c>HF_ENDPOINT</c> is plain http to a host that is not loopback.</summary>
    public const string TokenOverPlainHttp = "LM0523";
    /// <summary><c>HF_ENDPOINT</c> is not an absolute http:// or https:// address.</summary>
    public const string InvalidHubEndpoint = "LM0524";
    /// <summary>An unexpected failure (a defect): the message says what failed; <c>--verbose</c> shows the stack trace.</summary>
    public const string UnexpectedFailure = "LM0599";
}
