using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Tokenization;

/// <summary>
/// Byte-level BPE as GPT-2 and RoBERTa use it: text is cut into pieces by <see cref="Gpt2PreTokenizer"/>, each
/// piece's UTF-8 bytes become single-byte tokens, and the lowest-ranked adjacent pair of merges.txt is merged
/// until none applies (ties go to the leftmost pair), as Hugging Face <c>tokenizers</c> does.
/// </summary>
/// <remarks>
/// Immutable apart from a bounded cache of piece → ids, which is safe to use from many threads. Pieces are looked
/// up in the cache by span, so a cache hit allocates nothing.
/// </remarks>
internal sealed class ByteLevelBpeModel
{
    /// <summary>Pieces longer than this are not cached: they are rare and would crowd the cache.</summary>
    private const int MaxCachedPieceLength = 64;

    /// <summary>Words with more bytes than this merge through a priority queue instead of rescanning.</summary>
    private const int QuadraticMergeLimit = 128;

    private const int CacheCapacity = 200_000;

    private readonly TokenVocabulary _vocabulary;
    private readonly (string Left, string Right)[] _merges;

    // Pair of token ids -> (rank << 32) | merged id.
    private readonly Dictionary<long, long> _mergeTable;
    private readonly int[] _byteTokenIds;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(Environment.ProcessorCount, 1 << 15, StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _cacheBySpan;
    private int _cacheCount;

    /// <param name="vocabulary">Token (spelled with <see cref="ByteLevelAlphabet"/>) → id.</param>
    /// <param name="merges">Merges in rank order.</param>
    /// <param name="unknownToken">Token for bytes missing from the vocabulary (GPT-2 has all 256).</param>
    /// <param name="addPrefixSpace">Prepend a space to text that does not start with one (<c>add_prefix_space</c>).</param>
    /// <param name="ignoreMerges">Take a piece that is itself a vocabulary token whole (<c>ignore_merges</c>).</param>
    /// <param name="source">File the vocabulary came from, for error messages.</param>
    public ByteLevelBpeModel(
        IReadOnlyDictionary<string, int> vocabulary,
        IReadOnlyList<(string Left, string Right)> merges,
        string? unknownToken,
        bool addPrefixSpace,
        bool ignoreMerges,
        string source)
    {
        _vocabulary = new TokenVocabulary(vocabulary, source);
        _merges = merges.ToArray();
        _mergeTable = new Dictionary<long, long>(_merges.Length, PairComparer.Instance);
        for (int rank = 0; rank < _merges.Length; rank++)
        {
            (string left, string right) = _merges[rank];
            if (_vocabulary.TokenToId(left) is not int leftId || _vocabulary.TokenToId(right) is not int rightId)
            {
                throw new LmException(ErrorCodes.TokenizerFileMalformed,
                    $"{source}: merge {rank + 1} ('{left} {right}') uses a token that is not in the vocabulary.");
            }

            if (_vocabulary.TokenToId(left + right) is not int mergedId)
            {
                throw new LmException(ErrorCodes.TokenizerFileMalformed,
                    $"{source}: merge {rank + 1} ('{left} {right}') makes '{left + right}', which is not in the vocabulary.");
            }

            // A pair listed twice keeps its last rank: tokenizers (and the slow GPT2Tokenizer's bpe_ranks dict)
            // collect the merges into a map, so later entries overwrite earlier ones.
            _mergeTable[PairKey(leftId, rightId)] = ((long)rank << 32) | (uint)mergedId;
        }

        int unknownId = unknownToken is not null && _vocabulary.TokenToId(unknownToken) is int unk ? unk : -1;
        _byteTokenIds = new int[256];
        for (int b = 0; b < 256; b++)
        {
            _byteTokenIds[b] = _vocabulary.TokenToId(ByteLevelAlphabet.ToChar((byte)b).ToString()) ?? unknownId;
        }

        UnknownToken = unknownToken;
        AddPrefixSpace = addPrefixSpace;
        IgnoreMerges = ignoreMerges;
        _cacheBySpan = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public string? UnknownToken { get; }

    public bool AddPrefixSpace { get; }

    public bool IgnoreMerges { get; }

    /// <summary>Number of tokens in vocab.json.</summary>
    public int VocabularySize => _vocabulary.IdSpace;

    public IReadOnlyList<(string Left, string Right)> Merges => _merges;

    public int? TokenToId(string token) => _vocabulary.TokenToId(token);

    public string? IdToToken(int id) => _vocabulary.IdToToken(id);

    /// <summary>Tokens in id order, for writing vocab.json.</summary>
    public IEnumerable<KeyValuePair<string, int>> VocabularyInIdOrder() => _vocabulary.InIdOrder();

    /// <summary>Appends the ids of <paramref name="text"/> (a stretch with no added tokens in it).</summary>
    public void Encode(ReadOnlySpan<char> text, List<int> ids)
    {
        if (text.IsEmpty)
        {
            return;
        }

        if (AddPrefixSpace && text[0] != ' ')
        {
            char[] rented = ArrayPool<char>.Shared.Rent(text.Length + 1);
            try
            {
                rented[0] = ' ';
                text.CopyTo(rented.AsSpan(1));
                EncodePieces(rented.AsSpan(0, text.Length + 1), ids);
            }
            finally
            {
                ArrayPool<char>.Shared.Return(rented);
            }

            return;
        }

        EncodePieces(text, ids);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void EncodePieces(ReadOnlySpan<char> text, List<int> ids)
    {
        int start = 0;
        while (start < text.Length)
        {
            int length = Gpt2PreTokenizer.NextPieceLength(text, start);
            EncodePiece(text.Slice(start, length), ids);
            start += length;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void EncodePiece(ReadOnlySpan<char> piece, List<int> ids)
    {
        bool cacheable = piece.Length <= MaxCachedPieceLength;
        if (cacheable && _cacheBySpan.TryGetValue(piece, out int[]? cached))
        {
            ids.AddRange((ReadOnlySpan<int>)cached);
            return;
        }

        int byteCount = Encoding.UTF8.GetByteCount(piece);
        byte[]? rentedBytes = null;
        int[]? rentedSymbols = null;
        Span<byte> bytes = byteCount <= 256 ? stackalloc byte[byteCount] : (rentedBytes = ArrayPool<byte>.Shared.Rent(byteCount));
        Span<int> symbols = byteCount <= 256 ? stackalloc int[byteCount] : (rentedSymbols = ArrayPool<int>.Shared.Rent(byteCount));
        try
        {
            Encoding.UTF8.GetBytes(piece, bytes);
            int count = MergePiece(bytes[..byteCount], symbols);
            Span<int> result = symbols[..count];
            ids.AddRange(result);
            if (cacheable && Volatile.Read(ref _cacheCount) < CacheCapacity && _cacheBySpan.TryAdd(piece, result.ToArray()))
            {
                Interlocked.Increment(ref _cacheCount);
            }
        }
        finally
        {
            if (rentedBytes is not null)
            {
                ArrayPool<byte>.Shared.Return(rentedBytes);
            }

            if (rentedSymbols is not null)
            {
                ArrayPool<int>.Shared.Return(rentedSymbols);
            }
        }
    }

    /// <summary>Writes the ids of one piece into <paramref name="symbols"/> and returns how many there are.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal int MergePiece(ReadOnlySpan<byte> bytes, Span<int> symbols, int quadraticLimit = QuadraticMergeLimit)
    {
        if (IgnoreMerges && bytes.Length <= MaxCachedPieceLength * 4)
        {
            // ignore_merges: a piece that is itself a vocabulary token is taken whole.
            Span<char> spelled = stackalloc char[bytes.Length];
            for (int i = 0; i < bytes.Length; i++)
            {
                spelled[i] = ByteLevelAlphabet.ToChar(bytes[i]);
            }

            if (_vocabulary.TryGetId(spelled, out int whole))
            {
                symbols[0] = whole;
                return 1;
            }
        }

        int count = 0;
        foreach (byte b in bytes)
        {
            int id = _byteTokenIds[b];
            if (id >= 0)
            {
                symbols[count++] = id;
            }
        }

        return count <= quadraticLimit ? MergeByScanning(symbols, count) : MergeByPriorityQueue(symbols, count);
    }

    /// <summary>
    /// Short words: keep the rank of every adjacent pair in an array, merge the lowest (leftmost on ties), and
    /// look up only the two pairs a merge changes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int MergeByScanning(Span<int> symbols, int count)
    {
        if (count < 2)
        {
            return count;
        }

        Span<long> pairs = count <= 256 ? stackalloc long[count - 1] : new long[count - 1];
        for (int i = 0; i < count - 1; i++)
        {
            pairs[i] = Lookup(symbols[i], symbols[i + 1]);
        }

        while (count > 1)
        {
            int best = -1;
            long bestValue = long.MaxValue;
            for (int i = 0; i < count - 1; i++)
            {
                if (pairs[i] < bestValue)
                {
                    bestValue = pairs[i];
                    best = i;
                }
            }

            if (best < 0)
            {
                break;
            }

            symbols[best] = (int)(bestValue & 0xFFFFFFFF);
            symbols.Slice(best + 2, count - best - 2).CopyTo(symbols.Slice(best + 1));
            pairs.Slice(best + 1, count - best - 2).CopyTo(pairs.Slice(best));
            count--;
            if (best > 0)
            {
                pairs[best - 1] = Lookup(symbols[best - 1], symbols[best]);
            }

            if (best < count - 1)
            {
                pairs[best] = Lookup(symbols[best], symbols[best + 1]);
            }
        }

        return count;
    }

    /// <summary>Long words: a doubly linked list of symbols and a queue of candidate merges, as tokenizers does.</summary>
    private int MergeByPriorityQueue(Span<int> symbols, int count)
    {
        var ids = symbols[..count].ToArray();
        var previous = new int[count];
        var next = new int[count];
        var alive = new bool[count];
        var queue = new PriorityQueue<(int Position, int MergedId), (long Rank, int Position)>();
        for (int i = 0; i < count; i++)
        {
            previous[i] = i - 1;
            next[i] = i + 1 < count ? i + 1 : -1;
            alive[i] = true;
        }

        for (int i = 0; i + 1 < count; i++)
        {
            Enqueue(i);
        }

        while (queue.TryDequeue(out var candidate, out _))
        {
            int left = candidate.Position;
            int right = alive[left] ? next[left] : -1;
            if (right < 0)
            {
                continue;
            }

            long value = Lookup(ids[left], ids[right]);
            if (value == long.MaxValue || (int)(value & 0xFFFFFFFF) != candidate.MergedId)
            {
                continue;
            }

            ids[left] = candidate.MergedId;
            alive[right] = false;
            next[left] = next[right];
            if (next[right] >= 0)
            {
                previous[next[right]] = left;
            }

            if (previous[left] >= 0)
            {
                Enqueue(previous[left]);
            }

            Enqueue(left);
        }

        int written = 0;
        for (int i = 0; i >= 0; i = next[i])
        {
            symbols[written++] = ids[i];
        }

        return written;

        void Enqueue(int position)
        {
            int after = next[position];
            if (after < 0)
            {
                return;
            }

            long found = Lookup(ids[position], ids[after]);
            if (found != long.MaxValue)
            {
                queue.Enqueue((position, (int)(found & 0xFFFFFFFF)), (found >> 32, position));
            }
        }
    }

    /// <summary>(rank &lt;&lt; 32) | merged id, or <see cref="long.MaxValue"/> when the pair does not merge.</summary>
    private long Lookup(int left, int right) =>
        _mergeTable.TryGetValue(PairKey(left, right), out long value) ? value : long.MaxValue;

    private static long PairKey(int left, int right) => ((long)left << 32) | (uint)right;

    /// <summary>
    /// long's own hash is left ^ right, which piles BPE pairs of small ids into few buckets; a multiplicative hash
    /// spreads them.
    /// </summary>
    internal sealed class PairComparer : IEqualityComparer<long>
    {
        public static readonly PairComparer Instance = new();

        public bool Equals(long x, long y) => x == y;

        public int GetHashCode(long pair) => (int)((ulong)(pair * unchecked((long)0x9E3779B97F4A7C15)) >> 32);
    }
}
