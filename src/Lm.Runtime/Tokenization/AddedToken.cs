namespace Lm.Runtime.Tokenization;

/// <summary>
/// A token matched in the text before the model sees it (Hugging Face <c>AddedToken</c>): special tokens such as
/// <c>&lt;|endoftext|&gt;</c>, <c>&lt;mask&gt;</c> or <c>[CLS]</c>, and tokens a user added to a vocabulary.
/// </summary>
/// <param name="Id">Its id.</param>
/// <param name="Content">The exact text it matches.</param>
/// <param name="Special">Skipped by <c>skip_special_tokens</c> decoding.</param>
/// <param name="SingleWord">Matches only where it is not inside a word.</param>
/// <param name="LStrip">Swallows the whitespace before it (RoBERTa's <c>&lt;mask&gt;</c>).</param>
/// <param name="RStrip">Swallows the whitespace after it.</param>
/// <param name="Normalized">Matched in the normalized text (e.g. lower-cased) instead of the raw text.</param>
internal sealed record AddedToken(
    int Id,
    string Content,
    bool Special,
    bool SingleWord = false,
    bool LStrip = false,
    bool RStrip = false,
    bool Normalized = false);
