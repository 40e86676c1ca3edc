using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Tokenization.TokenizerJson;

/// <summary>A tokenizer.json <c>model</c>: turns one pre-tokenized piece into ids, and holds the vocabulary.</summary>
internal abstract class TokenModel
{
    private protected TokenModel(TokenVocabulary vocabulary)
    {
        Vocabulary = vocabulary;
    }

    public TokenVocabulary Vocabulary { get; }

    /// <summary>Whether transformers skips <c>clean_up_tokenization_spaces</c> when decoding (it does for BPE).</summary>
    public abstract bool IsBpe { get; }

    public abstract void Tokenize(string piece, List<int> ids);

    public static TokenModel Read(JsonNode? node, string path)
    {
        if (node is not JsonObject model)
        {
            throw TokenizerJsonValues.Malformed(path, "has no \"model\" object");
        }

        // Files written before tokenizers 0.10 have no model type; their fields say which it is.
        string type = TokenizerJsonValues.OptionalString(model, "type")
            ?? (model.ContainsKey("merges") ? "BPE" : model.ContainsKey("max_input_chars_per_word") ? "WordPiece" : "unknown");
        return type switch
        {
            "BPE" => BpeModel.Read(model, path),
            "WordPiece" => new WordPieceWordModel(
                ReadVocabulary(model, path),
                TokenizerJsonValues.OptionalString(model, "unk_token") ?? "[UNK]",
                TokenizerJsonValues.OptionalString(model, "continuing_subword_prefix") ?? "##",
                TokenizerJsonValues.Int(model, "max_input_chars_per_word") ?? 100,
                path),
            "Unigram" => UnigramModel.Read(model, path),
            _ => throw TokenizerJsonValues.Unsupported(path, "model", $"a {type} model (lm-tune reads BPE, WordPiece and Unigram)"),
        };
    }

    internal static TokenVocabulary ReadVocabulary(JsonObject model, string path) =>
        model["vocab"] is JsonObject vocab
            ? new TokenVocabulary(PretrainedTokenizerReader.ReadVocabulary(vocab, path), path)
            : throw TokenizerJsonValues.Malformed(path, "has no \"model.vocab\" object");
}

/// <summary>
/// tokenizers' BPE (<c>models/bpe/model.rs</c>): each character of a piece is looked up (with
/// <c>continuing_subword_prefix</c> on all but the first and <c>end_of_word_suffix</c> on the last); a character
/// missing from the vocabulary becomes its UTF-8 bytes as <c>&lt;0xAB&gt;</c> tokens with <c>byte_fallback</c>, else
/// the unknown token (consecutive ones fused with <c>fuse_unk</c>), else nothing; then the lowest-ranked adjacent
/// pair is merged until none applies, leftmost first on ties. <c>ignore_merges</c> takes a piece that is itself a
/// vocabulary token whole.
/// </summary>
internal sealed class BpeModel : TokenModel
{
    private const int CacheCapacity = 100_000;

    // Pair of ids -> (rank, merged id).
    private readonly Dictionary<(int, int), (int Rank, int Id)> _merges;
    private readonly string? _prefix;
    private readonly string? _suffix;
    private readonly int? _unknownId;
    private readonly bool _fuseUnknown;
    private readonly bool _byteFallback;
    private readonly bool _ignoreMerges;
    private readonly int[] _byteIds = new int[256];
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private int _cacheCount;

    private BpeModel(
        TokenVocabulary vocabulary, List<(string Left, string Right)> merges, string? prefix, string? suffix,
        string? unknownToken, bool fuseUnknown, bool byteFallback, bool ignoreMerges, string path)
        : base(vocabulary)
    {
        _prefix = string.IsNullOrEmpty(prefix) ? null : prefix;
        _suffix = string.IsNullOrEmpty(suffix) ? null : suffix;
        _fuseUnknown = fuseUnknown;
        _byteFallback = byteFallback;
        _ignoreMerges = ignoreMerges;
        if (unknownToken is not null)
        {
            _unknownId = vocabulary.TokenToId(unknownToken)
                ?? throw TokenizerJsonValues.Malformed(path, $"has a BPE unk_token '{unknownToken}' that is not in the vocabulary");
        }

        _merges = new Dictionary<(int, int), (int, int)>(merges.Count);
        int prefixLength = _prefix?.Length ?? 0;
        for (int rank = 0; rank < merges.Count; rank++)
        {
            (string left, string right) = merges[rank];
            int leftId = vocabulary.TokenToId(left) ?? throw MergeError(path, rank, left, right, left);
            int rightId = vocabulary.TokenToId(right) ?? throw MergeError(path, rank, left, right, right);

            // The merged token drops the right side's continuing-subword prefix.
            string merged = left + (right.Length >= prefixLength ? right[prefixLength..] : right);
            int mergedId = vocabulary.TokenToId(merged) ?? throw MergeError(path, rank, left, right, merged);

            // Collected into a map as tokenizers does: a pair listed twice keeps its last rank.
            _merges[(leftId, rightId)] = (rank, mergedId);
        }

        for (int b = 0; b < 256; b++)
        {
            _byteIds[b] = vocabulary.TokenToId(string.Create(CultureInfo.InvariantCulture, $"<0x{b:X2}>")) ?? -1;
        }
    }

    public override bool IsBpe => true;

    public static BpeModel Read(JsonObject model, string path)
    {
        if (model["dropout"] is JsonValue dropout && dropout.TryGetValue(out double p) && p != 0)
        {
            throw TokenizerJsonValues.Unsupported(path, "model", $"a BPE with dropout {p.ToString(CultureInfo.InvariantCulture)} (random merges give different ids on every call)");
        }

        return new BpeModel(
            ReadVocabulary(model, path),
            ReadMerges(model["merges"], path),
            TokenizerJsonValues.OptionalString(model, "continuing_subword_prefix"),
            TokenizerJsonValues.OptionalString(model, "end_of_word_suffix"),
            TokenizerJsonValues.OptionalString(model, "unk_token"),
            TokenizerJsonValues.Bool(model, "fuse_unk") ?? false,
            TokenizerJsonValues.Bool(model, "byte_fallback") ?? false,
            TokenizerJsonValues.Bool(model, "ignore_merges") ?? false,
            path);
    }

    /// <summary>Merges as "left right" strings (tokenizers before 0.20) or [left, right] pairs (after).</summary>
    internal static List<(string, string)> ReadMerges(JsonNode? node, string path)
    {
        if (node is not JsonArray array)
        {
            throw TokenizerJsonValues.Malformed(path, "has no \"model.merges\" array");
        }

        var merges = new List<(string, string)>(array.Count);
        foreach (JsonNode? merge in array)
        {
            if (merge is JsonValue value && value.TryGetValue(out string? line) && line.Split(' ') is [var left, var right])
            {
                merges.Add((left, right));
            }
            else if (merge is JsonArray { Count: 2 } pair && pair[0] is JsonValue l && l.TryGetValue(out string? a)
                && pair[1] is JsonValue r && r.TryGetValue(out string? b))
            {
                merges.Add((a, b));
            }
            else
            {
                throw TokenizerJsonValues.Malformed(path, $"has a merge that is not a pair of tokens: {merge?.ToJsonString()}");
            }
        }

        return merges;
    }

    public override void Tokenize(string piece, List<int> ids)
    {
        if (piece.Length == 0)
        {
            return;
        }

        if (_cache.TryGetValue(piece, out int[]? cached))
        {
            ids.AddRange(cached);
            return;
        }

        int[] result = Merge(piece);

        // ConcurrentDictionary.Count takes every lock, so the size is counted here.
        if (piece.Length <= 256 && Volatile.Read(ref _cacheCount) < CacheCapacity && _cache.TryAdd(piece, result))
        {
            Interlocked.Increment(ref _cacheCount);
        }

        ids.AddRange(result);
    }

    private int[] Merge(string piece)
    {
        if (_ignoreMerges && Vocabulary.TryGetId(piece, out int whole))
        {
            return [whole];
        }

        // The initial symbols, one per character.
        var symbols = new List<int>(piece.Length);
        int? pendingUnknown = null;
        for (int i = 0; i < piece.Length;)
        {
            int width = char.IsHighSurrogate(piece[i]) && i + 1 < piece.Length && char.IsLowSurrogate(piece[i + 1]) ? 2 : 1;
            string? spelled = null;
            bool affixed = (i > 0 && _prefix is not null) || (i + width == piece.Length && _suffix is not null);
            if (affixed)
            {
                spelled = (i > 0 ? _prefix : null) + piece.Substring(i, width) + (i + width == piece.Length ? _suffix : null);
            }

            bool known = affixed ? Vocabulary.TryGetId(spelled, out int id) : Vocabulary.TryGetId(piece.AsSpan(i, width), out id);
            i += width;
            if (known)
            {
                if (pendingUnknown is int unknown)
                {
                    symbols.Add(unknown);
                    pendingUnknown = null;
                }

                symbols.Add(id);
                continue;
            }

            if (_byteFallback && TryAddBytes(spelled ?? piece.Substring(i - width, width), symbols))
            {
                // tokenizers leaves a pending unknown token where it is here and adds it after the bytes.
                continue;
            }

            if (_unknownId is int unk)
            {
                if (pendingUnknown is int previous && !_fuseUnknown)
                {
                    symbols.Add(previous);
                }

                pendingUnknown = unk;
            }
        }

        if (pendingUnknown is int last)
        {
            symbols.Add(last);
        }

        return MergeAll(symbols);
    }

    /// <summary>Adds the <c>&lt;0xAB&gt;</c> tokens of <paramref name="text"/>'s UTF-8 bytes, if every one is in the vocabulary.</summary>
    private bool TryAddBytes(string text, List<int> symbols)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        foreach (byte b in bytes)
        {
            if (_byteIds[b] < 0)
            {
                return false;
            }
        }

        foreach (byte b in bytes)
        {
            symbols.Add(_byteIds[b]);
        }

        return true;
    }

    /// <summary>
    /// tokenizers' <c>Word::merge_all</c>: a priority queue of (rank, position); an entry whose pair has changed
    /// since it was queued is skipped.
    /// </summary>
    private int[] MergeAll(List<int> initial)
    {
        int n = initial.Count;
        if (n < 2)
        {
            return initial.ToArray();
        }

        int[] id = initial.ToArray();
        int[] previous = new int[n];
        int[] next = new int[n];
        bool[] removed = new bool[n];
        for (int i = 0; i < n; i++)
        {
            previous[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }

        var queue = new PriorityQueue<(int Position, int Id), (int Rank, int Position)>();
        void Enqueue(int position)
        {
            int right = next[position];
            if (right >= 0 && _merges.TryGetValue((id[position], id[right]), out var merge))
            {
                queue.Enqueue((position, merge.Id), (merge.Rank, position));
            }
        }

        for (int i = 0; i < n - 1; i++)
        {
            Enqueue(i);
        }

        while (queue.TryDequeue(out var top, out _))
        {
            int position = top.Position;
            if (removed[position] || next[position] < 0)
            {
                continue;
            }

            int right = next[position];
            if (!_merges.TryGetValue((id[position], id[right]), out var merge) || merge.Id != top.Id)
            {
                continue;
            }

            id[position] = merge.Id;
            removed[right] = true;
            next[position] = next[right];
            if (next[right] >= 0)
            {
                previous[next[right]] = position;
            }

            if (previous[position] >= 0)
            {
                Enqueue(previous[position]);
            }

            Enqueue(position);
        }

        var result = new List<int>(n);
        for (int i = 0; i >= 0; i = next[i])
        {
            result.Add(id[i]);
        }

        return result.ToArray();
    }

    private static LmException MergeError(string path, int rank, string left, string right, string missing) =>
        TokenizerJsonValues.Malformed(path, $"has merge {rank + 1} ('{left} {right}') that needs '{missing}', which is not in the vocabulary");
}

/// <summary>
/// tokenizers' WordPiece model for one word: the longest vocabulary prefix, then the longest
/// <c>continuing_subword_prefix</c> piece of the rest, and so on; a word that cannot be covered, or has more than
/// <c>max_input_chars_per_word</c> characters, is the unknown token.
/// </summary>
internal sealed class WordPieceWordModel : TokenModel
{
    private readonly string _prefix;
    private readonly int _maxCharacters;
    private readonly int _unknownId;

    public WordPieceWordModel(TokenVocabulary vocabulary, string unknownToken, string prefix, int maxCharacters, string path)
        : base(vocabulary)
    {
        _prefix = prefix;
        _maxCharacters = maxCharacters;
        _unknownId = vocabulary.TokenToId(unknownToken)
            ?? throw TokenizerJsonValues.Malformed(path, $"has a WordPiece unk_token '{unknownToken}' that is not in the vocabulary");
    }

    public override bool IsBpe => false;

    public override void Tokenize(string piece, List<int> ids)
    {
        if (piece.EnumerateRunes().Count() > _maxCharacters)
        {
            ids.Add(_unknownId);
            return;
        }

        int before = ids.Count;
        int start = 0;
        while (start < piece.Length)
        {
            int end = piece.Length;
            int? found = null;
            while (start < end)
            {
                string candidate = start > 0 ? _prefix + piece[start..end] : piece[start..end];
                if (Vocabulary.TokenToId(candidate) is int id)
                {
                    found = id;
                    break;
                }

                end -= end >= 2 && char.IsLowSurrogate(piece[end - 1]) && char.IsHighSurrogate(piece[end - 2]) ? 2 : 1;
            }

            if (found is not int token)
            {
                ids.RemoveRange(before, ids.Count - before);
                ids.Add(_unknownId);
                return;
            }

            ids.Add(token);
            start = end;
        }
    }
}

/// <summary>
/// tokenizers' Unigram (<c>models/unigram/model.rs</c>, SentencePiece's algorithm): the segmentation of a piece
/// whose token scores sum highest (Viterbi, the first best path on ties); a character no token starts with is an
/// unknown of score <c>min_score - 10</c>, consecutive unknowns fused into one; an unknown becomes its UTF-8 bytes
/// as <c>&lt;0xAB&gt;</c> tokens with <c>byte_fallback</c>, else the unknown id.
/// </summary>
internal sealed class UnigramModel : TokenModel
{
    private const double UnknownPenalty = 10.0;

    private readonly double[] _scores;
    private readonly int? _unknownId;
    private readonly bool _byteFallback;
    private readonly int _longestPiece;
    private readonly double _unknownScore;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private int _cacheCount;

    private UnigramModel(TokenVocabulary vocabulary, double[] scores, int? unknownId, bool byteFallback, int longestPiece)
        : base(vocabulary)
    {
        _scores = scores;
        _unknownId = unknownId;
        _byteFallback = byteFallback;
        _longestPiece = longestPiece;
        _unknownScore = (scores.Length == 0 ? 0 : scores.Min()) - UnknownPenalty;
    }

    public override bool IsBpe => false;

    public static UnigramModel Read(JsonObject model, string path)
    {
        if (model["vocab"] is not JsonArray entries)
        {
            throw TokenizerJsonValues.Malformed(path, "has a Unigram model without a \"vocab\" array of [piece, score] pairs");
        }

        var tokens = new Dictionary<string, int>(entries.Count, StringComparer.Ordinal);
        var scores = new double[entries.Count];
        int longest = 0;
        for (int i = 0; i < entries.Count; i++)
        {
            if (entries[i] is not JsonArray { Count: 2 } entry || entry[0] is not JsonValue piece || !piece.TryGetValue(out string? token)
                || entry[1] is not JsonValue score || !score.TryGetValue(out double value))
            {
                throw TokenizerJsonValues.Malformed(path, $"has Unigram vocabulary entry {i} that is not a [piece, score] pair");
            }

            // A piece listed twice keeps its last id, as tokenizers' map does.
            tokens[token] = i;
            scores[i] = value;
            longest = Math.Max(longest, token.Length);
        }

        int? unknownId = TokenizerJsonValues.Int(model, "unk_id");
        if (unknownId is int unk && (unk < 0 || unk >= entries.Count))
        {
            throw TokenizerJsonValues.Malformed(path, $"has a Unigram unk_id {unk} outside the vocabulary");
        }

        return new UnigramModel(new TokenVocabulary(tokens, path), scores, unknownId, TokenizerJsonValues.Bool(model, "byte_fallback") ?? false, longest);
    }

    public override void Tokenize(string piece, List<int> ids)
    {
        if (piece.Length == 0)
        {
            return;
        }

        if (_cache.TryGetValue(piece, out int[]? cached))
        {
            ids.AddRange(cached);
            return;
        }

        var result = new List<int>();
        Segment(piece, result);
        if (piece.Length <= 256 && Volatile.Read(ref _cacheCount) < 100_000 && _cache.TryAdd(piece, result.ToArray()))
        {
            Interlocked.Increment(ref _cacheCount);
        }

        ids.AddRange(result);
    }

    private void Segment(string piece, List<int> ids)
    {
        int size = piece.Length;
        var bestScore = new double[size + 1];
        var bestStart = new int[size + 1];
        var bestId = new int[size + 1];
        Array.Fill(bestStart, -1);
        for (int start = 0; start < size;)
        {
            int characterLength = char.IsHighSurrogate(piece[start]) && start + 1 < size && char.IsLowSurrogate(piece[start + 1]) ? 2 : 1;
            double scoreSoFar = bestScore[start];
            bool hasSingleCharacter = false;
            for (int end = start + 1; end <= Math.Min(size, start + _longestPiece); end++)
            {
                if (end < size && char.IsLowSurrogate(piece[end]) && char.IsHighSurrogate(piece[end - 1]))
                {
                    continue;
                }

                if (!Vocabulary.TryGetId(piece.AsSpan(start, end - start), out int id))
                {
                    continue;
                }

                double candidate = _scores[id] + scoreSoFar;
                if (bestStart[end] < 0 || candidate > bestScore[end])
                {
                    bestScore[end] = candidate;
                    bestStart[end] = start;
                    bestId[end] = id;
                }

                hasSingleCharacter |= end - start == characterLength;
            }

            if (!hasSingleCharacter)
            {
                int end = start + characterLength;
                double candidate = _unknownScore + scoreSoFar;
                if (bestStart[end] < 0 || candidate > bestScore[end])
                {
                    bestScore[end] = candidate;
                    bestStart[end] = start;
                    bestId[end] = _unknownId ?? throw new LmException(ErrorCodes.TokenizerUnsupported,
                        $"The Unigram model has no unk_id, and '{piece}' holds a character none of its pieces starts with.");
                }
            }

            start += characterLength;
        }

        // Walk back; runs of unknowns become one piece.
        var pieces = new List<(string Text, bool Unknown)>();
        int fusedEnd = -1;
        for (int end = size; end > 0;)
        {
            int start = bestStart[end];
            bool unknown = _unknownId is int unk && bestId[end] == unk;
            if (unknown)
            {
                fusedEnd = fusedEnd < 0 ? end : fusedEnd;
            }
            else
            {
                if (fusedEnd >= 0)
                {
                    pieces.Add((piece[end..fusedEnd], true));
                    fusedEnd = -1;
                }

                pieces.Add((piece[start..end], false));
            }

            if (unknown && start == 0)
            {
                pieces.Add((piece[..fusedEnd], true));
                fusedEnd = -1;
            }

            end = start;
        }

        for (int i = pieces.Count - 1; i >= 0; i--)
        {
            string text = pieces[i].Text;
            if (Vocabulary.TryGetId(text, out int id))
            {
                ids.Add(id);
                continue;
            }

            if (_byteFallback)
            {
                byte[] bytes = Encoding.UTF8.GetBytes(text);
                var byteIds = bytes.Select(b => Vocabulary.TokenToId(string.Create(CultureInfo.InvariantCulture, $"<0x{b:X2}>"))).ToArray();
                if (byteIds.All(b => b is not null))
                {
                    ids.AddRange(byteIds.Select(b => b!.Value));
                    continue;
                }
            }

            ids.Add(_unknownId!.Value);
        }
    }
}
