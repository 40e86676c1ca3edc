namespace Lm.Runtime.Errors;

public static partial class ErrorCodes
{
    /// <summary>The tokenizer folder does not exist, or holds none of the files a tokenizer is read from.</summary>
    public const string TokenizerFilesNotFound = "LM0201";

    /// <summary>A tokenizer folder holds one file of a pair but not the other (vocab.json without merges.txt).</summary>
    public const string TokenizerFileMissing = "LM0202";

    /// <summary>A tokenizer file is not what its name promises: bad JSON, a bad merges line, a merge of unknown tokens.</summary>
    public const string TokenizerFileMalformed = "LM0203";

    /// <summary>The tokenizer uses a model or pipeline step lm-tune does not implement.</summary>
    public const string TokenizerUnsupported = "LM0204";

    /// <summary>The tokenizer files could not be written to the folder asked for.</summary>
    public const string TokenizerSaveFailed = "LM0205";

    /// <summary>A tokenizer file's value has the wrong type (tokenizer_config.json <c>"model_max_length": "long"</c>).</summary>
    public const string TokenizerValueInvalid = "LM0220";

    /// <summary>A token id in a tokenizer file is negative or beyond the vocabulary.</summary>
    public const string TokenIdOutOfRange = "LM0221";

    /// <summary>A tokenizer.json regular expression uses a construct lm-tune cannot match exactly as Oniguruma does.</summary>
    public const string TokenizerRegexUnsupported = "LM0240";

    /// <summary>tokenizer_config.json asks for a bos or eos token around each text but names no such token.</summary>
    public const string TokenizerTemplateTokenMissing = "LM0241";

    /// <summary>tokenizer.model is not a readable SentencePiece model (damaged protobuf, too few pieces, not UTF-8).</summary>
    public const string SentencePieceModelMalformed = "LM0250";

    /// <summary>A SentencePiece tokenizer.model that Hugging Face's fast tokenizers do not convert (WORD/CHAR models, non-Llama classes).</summary>
    public const string SentencePieceUnsupported = "LM0251";
}
