using System.Buffers;
using System.Globalization;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Tokenization;

/// <summary>
/// BERT's WordPiece as Hugging Face <c>tokenizers</c> runs it: <see cref="BertNormalizer"/>, then split on
/// whitespace and around each punctuation character (<c>BertPreTokenizer</c>), then per word the longest
/// vocabulary prefix, continued with <c>##</c> pieces; a word that cannot be covered, or is longer than
/// <c>max_input_chars_per_word</c> characters, becomes the unknown token.
/// </summary>
internal sealed class WordPieceModel
{
    private readonly TokenVocabulary _vocabulary;
    private readonly int _unknownId;

    public WordPieceModel(
        IReadOnlyDictionary<string, int> vocabulary,
        string unknownToken,
        string continuingSubwordPrefix,
        int maxInputCharsPerWord,
        BertNormalizer? normalizer,
        string source)
    {
        _vocabulary = new TokenVocabulary(vocabulary, source);
        _unknownId = _vocabulary.TokenToId(unknownToken) ?? -1;
        UnknownToken = unknownToken;
        ContinuingSubwordPrefix = continuingSubwordPrefix;
        MaxInputCharsPerWord = maxInputCharsPerWord;
        Normalizer = normalizer;
        Source = source;
    }

    public string UnknownToken { get; }

    public string ContinuingSubwordPrefix { get; }

    public int MaxInputCharsPerWord { get; }

    /// <summary>The normalizer, or null when the tokenizer has none.</summary>
    public BertNormalizer? Normalizer { get; }

    private string Source { get; }

    public int VocabularySize => _vocabulary.IdSpace;

    public int? TokenToId(string token) => _vocabulary.TokenToId(token);

    public string? IdToToken(int id) => _vocabulary.IdToToken(id);

    /// <summary>Tokens in id order, for writing vocab.txt.</summary>
    public IEnumerable<KeyValuePair<string, int>> VocabularyInIdOrder() => _vocabulary.InIdOrder();

    /// <summary>Appends the ids of already normalized text.</summary>
    public void Encode(ReadOnlySpan<char> text, List<int> ids)
    {
        int i = 0;
        while (i < text.Length)
        {
            int width = CodePointWidth(text, i);
            int codePoint = CodePointAt(text, i, width);
            if (BertNormalizer.IsWhiteSpace(codePoint))
            {
                i += width;
                continue;
            }

            if (IsPunctuation(codePoint))
            {
                EncodeWord(text.Slice(i, width), ids);
                i += width;
                continue;
            }

            int start = i;
            while (i < text.Length)
            {
                width = CodePointWidth(text, i);
                codePoint = CodePointAt(text, i, width);
                if (BertNormalizer.IsWhiteSpace(codePoint) || IsPunctuation(codePoint))
                {
                    break;
                }

                i += width;
            }

            EncodeWord(text[start..i], ids);
        }
    }

    private void EncodeWord(ReadOnlySpan<char> word, List<int> ids)
    {
        if (CountCodePoints(word) <= MaxInputCharsPerWord && TryEncodePieces(word, ids))
        {
            return;
        }

        if (_unknownId < 0)
        {
            throw new LmException(ErrorCodes.TokenizerFileMalformed,
                $"{Source}: the unknown token '{UnknownToken}' is not in the vocabulary, and '{word}' needs it.");
        }

        ids.Add(_unknownId);
    }

    /// <summary>Greedy longest-match-first; on failure removes what it added and returns false.</summary>
    private bool TryEncodePieces(ReadOnlySpan<char> word, List<int> ids)
    {
        int firstNew = ids.Count;
        int prefixLength = ContinuingSubwordPrefix.Length;
        char[]? rented = null;
        Span<char> buffer = prefixLength + word.Length <= 256
            ? stackalloc char[256]
            : (rented = ArrayPool<char>.Shared.Rent(prefixLength + word.Length));
        try
        {
            ContinuingSubwordPrefix.CopyTo(buffer);
            int start = 0;
            while (start < word.Length)
            {
                int end = word.Length;
                int found = -1;
                while (start < end)
                {
                    ReadOnlySpan<char> piece = word[start..end];
                    scoped ReadOnlySpan<char> candidate = piece;
                    if (start > 0)
                    {
                        piece.CopyTo(buffer[prefixLength..]);
                        candidate = buffer[..(prefixLength + piece.Length)];
                    }

                    if (_vocabulary.TryGetId(candidate, out found))
                    {
                        break;
                    }

                    found = -1;
                    end -= end - 2 >= start && char.IsLowSurrogate(word[end - 1]) && char.IsHighSurrogate(word[end - 2]) ? 2 : 1;
                }

                if (found < 0)
                {
                    ids.RemoveRange(firstNew, ids.Count - firstNew);
                    return false;
                }

                ids.Add(found);
                start = end;
            }

            return true;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<char>.Shared.Return(rented);
            }
        }
    }

    private static int CountCodePoints(ReadOnlySpan<char> text)
    {
        int count = 0;
        for (int i = 0; i < text.Length; i += CodePointWidth(text, i))
        {
            count++;
        }

        return count;
    }

    private static int CodePointWidth(ReadOnlySpan<char> text, int i) =>
        char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;

    private static int CodePointAt(ReadOnlySpan<char> text, int i, int width) =>
        width == 2 ? char.ConvertToUtf32(text[i], text[i + 1]) : text[i];

    /// <summary>tokenizers' <c>is_bert_punc</c>: ASCII punctuation, or any Unicode "P" category.</summary>
    internal static bool IsPunctuation(int codePoint)
    {
        if (codePoint < 128)
        {
            return char.IsAsciiLetterOrDigit((char)codePoint) is false && codePoint > 32 && codePoint < 127;
        }

        return CharUnicodeInfo.GetUnicodeCategory(codePoint) is UnicodeCategory.ConnectorPunctuation
            or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation
            or UnicodeCategory.InitialQuotePunctuation or UnicodeCategory.FinalQuotePunctuation
            or UnicodeCategory.OtherPunctuation;
    }
}
