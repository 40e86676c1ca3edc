namespace Lm.Runtime.Tokenization;

/// <summary>
/// Everything about a tokenizer except its model, gathered from a folder's files (or set by a factory) before the
/// special tokens are given ids: tokenizer_config.json, special_tokens_map.json, added_tokens.json and the
/// added_tokens / post_processor parts of tokenizer.json.
/// </summary>
internal sealed class TokenizerSettings
{
    /// <summary>Hugging Face's special-token attributes, in the order it registers them.</summary>
    public static readonly string[] Roles = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"];

    public required string TokenizerClass { get; set; }

    /// <summary><c>model_max_length</c>; <see cref="int.MaxValue"/> when unset (HF's VERY_LARGE_INTEGER).</summary>
    public int ModelMaxLength { get; set; } = int.MaxValue;

    public bool CleanUpTokenizationSpaces { get; set; }

    /// <summary>Named special tokens: role (<c>bos_token</c>, …) → token, null where explicitly unset.</summary>
    public Dictionary<string, AddedTokenSpec?> SpecialTokens { get; } = new(StringComparer.Ordinal);

    public List<AddedTokenSpec> AdditionalSpecialTokens { get; } = [];

    /// <summary>Added tokens with their ids as the files declare them.</summary>
    public List<AddedToken> DeclaredAddedTokens { get; } = [];

    /// <summary>Tokens <c>tokenizer(text)</c> puts before the text, by content.</summary>
    public List<string> Prefix { get; } = [];

    /// <summary>Tokens <c>tokenizer(text)</c> puts after the text, by content.</summary>
    public List<string> Suffix { get; } = [];

    /// <summary>
    /// Ids before the text when a post-processor gives them directly (tokenizer.json's TemplateProcessing); they
    /// win over <see cref="Prefix"/>.
    /// </summary>
    public int[]? PrefixIds { get; set; }

    /// <summary>Ids after the text when a post-processor gives them directly; they win over <see cref="Suffix"/>.</summary>
    public int[]? SuffixIds { get; set; }

    /// <summary>tokenizer_config.json's <c>tokenizer_class</c> exactly as written, null when it names none.</summary>
    public string? DeclaredClass { get; set; }

    /// <summary>The Jinja chat template (chat_template.jinja, else tokenizer_config.json's <c>chat_template</c>), or null.</summary>
    public string? ChatTemplate { get; set; }

    /// <summary>
    /// Gives every special token an id, as Hugging Face does on load: a token already declared or in the model's
    /// vocabulary keeps its id; any other is appended after the last id.
    /// </summary>
    public ResolvedTokens Resolve(Func<string, int?> modelTokenToId, int modelVocabularySize)
    {
        var byContent = new Dictionary<string, AddedToken>(StringComparer.Ordinal);
        foreach (AddedToken token in DeclaredAddedTokens.OrderBy(t => t.Id))
        {
            byContent[token.Content] = token;
        }

        int nextId = Math.Max(modelVocabularySize, byContent.Count == 0 ? 0 : byContent.Values.Max(t => t.Id) + 1);
        var specialIds = new HashSet<int>(byContent.Values.Where(t => t.Special).Select(t => t.Id));
        var named = new List<KeyValuePair<string, AddedToken>>();

        AddedToken Register(AddedTokenSpec spec)
        {
            AddedToken token;
            if (byContent.TryGetValue(spec.Content, out AddedToken? declared))
            {
                token = spec.HasFlags ? spec.ToToken(declared.Id) : declared with { Special = true };
            }
            else
            {
                token = spec.ToToken(modelTokenToId(spec.Content) ?? nextId++);
            }

            byContent[token.Content] = token;
            specialIds.Add(token.Id);
            return token;
        }

        foreach (string role in Roles)
        {
            if (SpecialTokens.TryGetValue(role, out AddedTokenSpec? spec) && spec is not null)
            {
                named.Add(new(role, Register(spec)));
            }
        }

        var additional = AdditionalSpecialTokens.Select(Register).ToList();
        int IdOf(string content) => byContent.TryGetValue(content, out AddedToken? token) ? token.Id
            : modelTokenToId(content) ?? throw new InvalidOperationException($"'{content}' has no id.");

        return new ResolvedTokens(
            byContent.Values.OrderBy(t => t.Id).ToList(),
            named,
            additional,
            specialIds,
            PrefixIds ?? Prefix.Select(IdOf).ToArray(),
            SuffixIds ?? Suffix.Select(IdOf).ToArray());
    }
}

/// <summary>A special token as a config file names it: its text and, where the file gives them, its flags.</summary>
internal sealed record AddedTokenSpec(string Content, bool HasFlags = false, bool SingleWord = false, bool LStrip = false, bool RStrip = false, bool Normalized = false)
{
    public AddedToken ToToken(int id) => new(id, Content, Special: true, SingleWord, LStrip, RStrip, Normalized);
}

/// <summary>The outcome of <see cref="TokenizerSettings.Resolve"/>.</summary>
internal sealed record ResolvedTokens(
    IReadOnlyList<AddedToken> AddedTokens,
    IReadOnlyList<KeyValuePair<string, AddedToken>> NamedSpecialTokens,
    IReadOnlyList<AddedToken> AdditionalSpecialTokens,
    IReadOnlySet<int> SpecialIds,
    int[] Prefix,
    int[] Suffix);
