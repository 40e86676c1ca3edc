using Lm.Runtime.Errors;

namespace Lm.Runtime.Tokenization;

/// <summary>A model's token ↔ id table (vocab.json, vocab.txt), looked up by string or by span.</summary>
internal sealed class TokenVocabulary
{
    private readonly Dictionary<string, int> _tokenToId;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _bySpan;
    private readonly string?[] _idToToken;

    /// <param name="tokens">Token → id.</param>
    /// <param name="source">File the tokens came from, for error messages.</param>
    public TokenVocabulary(IReadOnlyDictionary<string, int> tokens, string source)
    {
        _tokenToId = new Dictionary<string, int>(tokens, StringComparer.Ordinal);
        _bySpan = _tokenToId.GetAlternateLookup<ReadOnlySpan<char>>();
        _idToToken = new string?[_tokenToId.Count == 0 ? 0 : _tokenToId.Values.Max() + 1];
        foreach ((string token, int id) in _tokenToId)
        {
            if (id < 0)
            {
                throw new LmException(ErrorCodes.TokenizerFileMalformed, $"{source}: token '{token}' has the negative id {id}.") { File = source };
            }

            _idToToken[id] = token;
        }
    }

    public int Count => _tokenToId.Count;

    /// <summary>
    /// Highest id + 1: the embedding rows the vocabulary needs. Equal to <see cref="Count"/> for the dense files
    /// Hugging Face writes; a file with gaps between ids (a hand-made excerpt of a real vocabulary) is read as the
    /// `tokenizers` library reads it, keeping its ids.
    /// </summary>
    public int IdSpace => _idToToken.Length;

    public int? TokenToId(string token) => _tokenToId.TryGetValue(token, out int id) ? id : null;

    public bool TryGetId(ReadOnlySpan<char> token, out int id) => _bySpan.TryGetValue(token, out id);

    public string? IdToToken(int id) => (uint)id < (uint)_idToToken.Length ? _idToToken[id] : null;

    /// <summary>Tokens in id order, for writing vocabulary files.</summary>
    public IEnumerable<KeyValuePair<string, int>> InIdOrder() => _tokenToId.OrderBy(pair => pair.Value);
}
