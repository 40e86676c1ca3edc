using Lm.Runtime.Errors;

namespace Lm.Runtime.Tokenization.Chat;

/// <summary>One turn of a conversation: <c>{"role": ..., "content": ...}</c>.</summary>
public sealed record ChatMessage(string Role, string Content);

/// <summary>
/// A tokenizer's chat template with the variables transformers' <c>apply_chat_template</c> renders it with:
/// <c>messages</c>, <c>add_generation_prompt</c>, <c>tools</c> and <c>documents</c> (None), and the tokenizer's
/// special tokens by role (<c>bos_token</c>, <c>eos_token</c>, ...). The result is the text transformers would
/// tokenize with <c>add_special_tokens=False</c> (the template writes the special tokens itself).
/// </summary>
public sealed class ChatTemplate
{
    private readonly IReadOnlyDictionary<string, string> _specialTokens;

    public ChatTemplate(string source, IReadOnlyDictionary<string, string> specialTokens)
    {
        Template = JinjaTemplate.Parse(source);
        _specialTokens = specialTokens;
    }

    public JinjaTemplate Template { get; }

    /// <summary>The clock <c>strftime_now</c> reads (tests fix it).</summary>
    public Func<DateTime>? Clock { get; init; }

    /// <summary>
    /// The template of <paramref name="tokenizer"/>, or of the file <paramref name="templateFile"/> when given
    /// (TRL's <c>chat_template_path</c> to a .jinja file). LM0334 when neither exists, LM0339 for a missing file.
    /// </summary>
    public static ChatTemplate For(LmTokenizer tokenizer, string? templateFile = null)
    {
        string source;
        if (templateFile is not null)
        {
            try
            {
                source = File.ReadAllText(templateFile, new System.Text.UTF8Encoding(false, true));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.DecoderFallbackException)
            {
                throw new LmException(ErrorCodes.ChatTemplateFileNotFound, $"chat template file '{templateFile}' cannot be read: {e.Message}")
                { File = templateFile };
            }
        }
        else
        {
            source = tokenizer.ChatTemplate ?? throw new LmException(ErrorCodes.ChatTemplateMissing,
                "the tokenizer has no chat_template (tokenizer_config.json or chat_template.jinja); give one with --chat-template FILE");
        }
        var tokens = new Dictionary<string, string>(StringComparer.Ordinal);
        void Add(string role, string? content)
        {
            if (content is not null) tokens[role] = content;
        }
        Add("bos_token", tokenizer.BosToken);
        Add("eos_token", tokenizer.EosToken);
        Add("unk_token", tokenizer.UnkToken);
        Add("sep_token", tokenizer.SepToken);
        Add("pad_token", tokenizer.PadToken);
        Add("cls_token", tokenizer.ClsToken);
        Add("mask_token", tokenizer.MaskToken);
        return new ChatTemplate(source, tokens);
    }

    /// <summary><c>apply_chat_template(messages, tokenize=False, add_generation_prompt=...)</c>, with the generation spans.</summary>
    public RenderedTemplate Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var variables = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["messages"] = messages.Select(m => (object?)new Dictionary<string, object?>(StringComparer.Ordinal)
            {
                ["role"] = m.Role,
                ["content"] = m.Content,
            }).ToList(),
            ["add_generation_prompt"] = addGenerationPrompt,
            ["tools"] = null,
            ["documents"] = null,
        };
        foreach (var (role, content) in _specialTokens) variables[role] = content;
        return Template.Render(variables, Clock);
    }
}
