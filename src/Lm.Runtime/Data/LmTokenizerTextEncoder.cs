using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Lm.Runtime.Tokenization;

namespace Lm.Runtime.Data;

/// <summary>The product's <see cref="LmTokenizer"/> as the data pipeline's <see cref="ITextEncoder"/>.</summary>
public sealed class LmTokenizerTextEncoder : ITextEncoder
{
    // One fingerprint per tokenizer object: computing it writes the tokenizer's files once.
    private static readonly ConditionalWeakTable<LmTokenizer, string> Fingerprints = new();

    private readonly LmTokenizer _tokenizer;

    public LmTokenizerTextEncoder(LmTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        _tokenizer = tokenizer;
    }

    /// <summary>The adapted tokenizer.</summary>
    public LmTokenizer Tokenizer => _tokenizer;

    public void EncodeContent(ReadOnlySpan<char> text, List<int> ids) => _tokenizer.EncodeInto(text, ids, addSpecialTokens: false);

    public IReadOnlyList<int> PrefixIds => _tokenizer.PrefixTokenIds;

    public IReadOnlyList<int> SuffixIds => _tokenizer.SuffixTokenIds;

    public int VocabSize => _tokenizer.VocabSize;

    public int ModelMaxLength => _tokenizer.ModelMaxLength;

    public int? PadTokenId => _tokenizer.PadTokenId;

    public int? MaskTokenId => _tokenizer.MaskTokenId;

    public IReadOnlyCollection<int> SpecialTokenIds => _tokenizer.AllSpecialIds;

    public string IdToToken(int id) => _tokenizer.ConvertIdToToken(id) ?? "";

    /// <summary>
    /// SHA-256 over the files <see cref="LmTokenizer.Save(string)"/> writes (vocabulary, merges, special tokens, settings):
    /// everything that decides the ids, whatever folder or preset the tokenizer came from.
    /// </summary>
    public string Fingerprint => Fingerprints.GetValue(_tokenizer, ComputeFingerprint);

    private static string ComputeFingerprint(LmTokenizer tokenizer)
    {
        string folder = Path.Combine(Path.GetTempPath(), "lm-tokenizer-fingerprint-" + Guid.NewGuid().ToString("N"));
        try
        {
            tokenizer.Save(folder);
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            foreach (string file in Directory.GetFiles(folder).Order(StringComparer.Ordinal))
            {
                hash.AppendData(System.Text.Encoding.UTF8.GetBytes(Path.GetFileName(file) + "\n"));
                hash.AppendData(File.ReadAllBytes(file));
            }
            return tokenizer.Kind + "|" + Convert.ToHexStringLower(hash.GetHashAndReset());
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }
}

/// <summary>Adapting tokenizers for the data pipeline.</summary>
public static class LmTokenizerDataExtensions
{
    /// <summary>This tokenizer as the data pipeline's <see cref="ITextEncoder"/>.</summary>
    public static ITextEncoder AsTextEncoder(this LmTokenizer tokenizer) => new LmTokenizerTextEncoder(tokenizer);
}
