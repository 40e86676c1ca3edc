namespace Lm.Runtime.Tokenization;

/// <summary>
/// What each Hugging Face tokenizer class assumes when its files are silent: special tokens, how
/// <c>tokenizer(text)</c> wraps text, and whether decoding cleans up spaces.
/// </summary>
internal static class PretrainedTokenizerDefaults
{
    public enum Family
    {
        Gpt2,
        Roberta,
        Bert,
        Llama,
        Qwen2,
        Other,
    }

    /// <summary>The family of a class name, with or without "Fast".</summary>
    public static Family FamilyOf(string tokenizerClass) => tokenizerClass switch
    {
        "GPT2Tokenizer" => Family.Gpt2,
        "RobertaTokenizer" => Family.Roberta,
        "BertTokenizer" or "DistilBertTokenizer" => Family.Bert,
        "LlamaTokenizer" => Family.Llama,
        "Qwen2Tokenizer" => Family.Qwen2,
        _ => Family.Other,
    };

    /// <summary>The slow class name for a class name that may end in "Fast".</summary>
    public static string SlowClassName(string tokenizerClass) =>
        tokenizerClass.EndsWith("Fast", StringComparison.Ordinal) ? tokenizerClass[..^4] : tokenizerClass;

    /// <summary>The tokenizer class AutoTokenizer picks for a config.json <c>model_type</c>, if it is one lm-tune knows.</summary>
    public static string? ClassForModelType(string? modelType) => modelType switch
    {
        // DistilBERT's folders are read for their tokenizer although lm-tune does not build the model.
        "distilbert" => "DistilBertTokenizer",
        // Mixtral's folders too (transformers maps it to Llama's tokenizer), although lm-tune does not build the model.
        "mixtral" => "LlamaTokenizer",
        // The architectures' own (src/Shared/Models/ArchitectureTable.cs).
        _ => Lm.Schema.ArchitectureTable.Find(modelType)?.TokenizerClass,
    };

    /// <summary>Settings with the class's default special tokens and wrapping.</summary>
    public static TokenizerSettings Create(string tokenizerClass, int modelMaxLength)
    {
        var settings = new TokenizerSettings { TokenizerClass = tokenizerClass, ModelMaxLength = modelMaxLength };
        var tokens = settings.SpecialTokens;
        switch (FamilyOf(tokenizerClass))
        {
            case Family.Gpt2:
                tokens["bos_token"] = tokens["eos_token"] = tokens["unk_token"] = new AddedTokenSpec(Gpt2Vocabulary.EndOfText);
                break;
            case Family.Roberta:
                tokens["bos_token"] = tokens["cls_token"] = new AddedTokenSpec("<s>");
                tokens["eos_token"] = tokens["sep_token"] = new AddedTokenSpec("</s>");
                tokens["unk_token"] = new AddedTokenSpec("<unk>");
                tokens["pad_token"] = new AddedTokenSpec("<pad>");
                tokens["mask_token"] = new AddedTokenSpec("<mask>");
                break;
            case Family.Bert:
                tokens["unk_token"] = new AddedTokenSpec("[UNK]");
                tokens["sep_token"] = new AddedTokenSpec("[SEP]");
                tokens["pad_token"] = new AddedTokenSpec("[PAD]");
                tokens["cls_token"] = new AddedTokenSpec("[CLS]");
                tokens["mask_token"] = new AddedTokenSpec("[MASK]");
                settings.CleanUpTokenizationSpaces = true;
                break;
            case Family.Llama:
                // LlamaTokenizerFast.__init__'s defaults; no pad token (run_clm and the Trainer need none: blocks
                // are grouped to one length).
                tokens["unk_token"] = new AddedTokenSpec("<unk>");
                tokens["bos_token"] = new AddedTokenSpec("<s>");
                tokens["eos_token"] = new AddedTokenSpec("</s>");
                break;
            case Family.Qwen2:
                // Qwen2TokenizerFast.__init__'s defaults: one token for unk, eos and pad, and no bos.
                tokens["unk_token"] = tokens["eos_token"] = tokens["pad_token"] = new AddedTokenSpec("<|endoftext|>");
                break;
        }

        WrapAsClassDoes(settings, addBosToken: false);
        return settings;
    }

    /// <summary>
    /// RobertaTokenizer turns a mask token given as a plain string into one that swallows the space before it;
    /// flags the files declare for the token (added_tokens_decoder, tokenizer.json) win over that.
    /// </summary>
    public static void ApplyClassTokenFlags(TokenizerSettings settings)
    {
        if (FamilyOf(settings.TokenizerClass) == Family.Roberta
            && settings.SpecialTokens.GetValueOrDefault("mask_token") is { HasFlags: false } mask
            && settings.DeclaredAddedTokens.All(t => t.Content != mask.Content))
        {
            settings.SpecialTokens["mask_token"] = mask with { HasFlags = true, LStrip = true };
        }
    }

    /// <summary>
    /// How the slow class's <c>build_inputs_with_special_tokens</c> wraps one text: RoBERTa and BERT put the
    /// classifier token before and the separator after; GPT-2 adds its bos token only with <c>add_bos_token</c>.
    /// </summary>
    public static void WrapAsClassDoes(TokenizerSettings settings, bool addBosToken)
    {
        settings.Prefix.Clear();
        settings.Suffix.Clear();
        switch (FamilyOf(settings.TokenizerClass))
        {
            case Family.Roberta or Family.Bert:
                AddIfSet(settings.Prefix, settings, "cls_token");
                AddIfSet(settings.Suffix, settings, "sep_token");
                break;
            case Family.Gpt2 when addBosToken:
                AddIfSet(settings.Prefix, settings, "bos_token");
                break;
        }
    }

    private static void AddIfSet(List<string> target, TokenizerSettings settings, string role)
    {
        if (settings.SpecialTokens.TryGetValue(role, out AddedTokenSpec? token) && token is not null)
        {
            target.Add(token.Content);
        }
    }
}
