namespace Lm.Runtime.Errors;

public static partial class ErrorCodes
{
    /// <summary>A train or validation file does not exist.</summary>
    public const string DataFileNotFound = "LM0301";
    /// <summary>A data file (or the split taken from it) has no rows.</summary>
    public const string DataFileEmpty = "LM0302";
    /// <summary>A split has fewer tokens than one block, so it would give no training examples.</summary>
    public const string NotEnoughTokens = "LM0303";
    /// <summary>A CSV file cannot be parsed (unterminated quote, too many fields); the message names the line.</summary>
    public const string MalformedCsv = "LM0304";
    /// <summary>A JSON or JSON Lines file cannot be parsed, or a row's text is not a string; the message names the line.</summary>
    public const string MalformedJson = "LM0305";
    /// <summary>A data file is not valid UTF-8; the message gives the byte offset.</summary>
    public const string InvalidUtf8 = "LM0306";
    /// <summary>The requested text column is not in the file; the message lists the columns.</summary>
    public const string UnknownColumn = "LM0307";
    /// <summary>A dataset name or configuration is not known; the message lists the known ones.</summary>
    public const string UnknownDatasetConfig = "LM0308";
    /// <summary>A data file's extension is not one of .txt, .csv, .json, .jsonl, .parquet.</summary>
    public const string UnsupportedDataFormat = "LM0309";
    /// <summary>A hub dataset's files are not in the local cache (and could not be downloaded).</summary>
    public const string DatasetNotCached = "LM0310";
    /// <summary>A data argument is out of range or inconsistent (block size, split percentage, missing files).</summary>
    public const string InvalidDataArgument = "LM0311";
    /// <summary>A parquet file cannot be read.</summary>
    public const string MalformedParquet = "LM0312";
    /// <summary>Collation needs a token the tokenizer lacks: a mask token for masked LM, a pad token to pad.</summary>
    public const string TokenizerLacksSpecialToken = "LM0313";

    /// <summary>A JSON / JSON Lines data file holds a string with an unpaired UTF-16 surrogate escape.</summary>
    public const string InvalidUtf16InJson = "LM0320";

    /// <summary>(Warning) A token cache entry was corrupt; it is dropped and built again.</summary>
    public const string TokenCacheEntryCorrupt = "LM0321";
}
