namespace Lm.Runtime.Tokenization;

/// <summary>The tokenization algorithm behind an <see cref="LmTokenizer"/>.</summary>
public enum TokenizerKind
{
    /// <summary>GPT-2 / RoBERTa byte-level BPE (vocab.json + merges.txt).</summary>
    ByteLevelBpe,

    /// <summary>BERT WordPiece (vocab.txt).</summary>
    WordPiece,
}
