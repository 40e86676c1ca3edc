using Lm.Runtime.Errors;
using Lm.Runtime.Tokenization;
using Lm.Runtime.Tokenization.Chat;

namespace Lm.Runtime.Data.Chat;

/// <summary>One tokenized example: its ids and labels (-100 where no loss is taken), of equal length.</summary>
public sealed record SupervisedExample(int[] InputIds, int[] Labels)
{
    /// <summary>Positions whose label counts.</summary>
    public int TrainedTokens => Labels.Count(l => l != SupervisedTokenizer.IgnoreIndex);
}

/// <summary>
/// TRL's SFTTrainer tokenization (<c>_prepare_dataset</c>'s <c>tokenize_fn</c> and <c>build_labels</c>):
/// <list type="bullet">
/// <item>a conversation is <c>apply_chat_template(messages, tokenize=True)</c>: the rendered text tokenized without
/// added special tokens; with assistant-only loss only the assistant's tokens keep their labels;</item>
/// <item>a conversational prompt/completion is the prompt rendered with the generation prompt and the whole
/// conversation rendered without it; the completion mask starts after the prompt's tokens;</item>
/// <item>a text prompt/completion gets the EOS token appended to the completion unless it ends with it, and is
/// tokenized as <c>tokenizer(prompt)</c> and <c>tokenizer(prompt + completion)</c>.</item>
/// </list>
/// A label survives only where every mask that applies is 1 (the completion mask with completion-only loss, the
/// assistant mask with assistant-only loss). The assistant mask is transformers' <c>return_assistant_tokens_mask</c>:
/// the tokens of the template's <c>{% generation %}</c> spans (a character span becomes the tokens from the token
/// count of the text before its start to that of the text before its end, the counts TRL's prompt/completion mask
/// uses). For templates without such blocks (most published ones) each assistant turn's tokens are those that
/// rendering the turn adds after the conversation before it rendered with the generation prompt: from the tokens
/// the whole conversation shares with that prefix to the tokens it shares with the conversation up to the turn.
/// That is the reply and its end-of-turn marker, which TRL's training variants of those templates mark too.
/// </summary>
public sealed class SupervisedTokenizer
{
    /// <summary>The label that takes no loss (PyTorch's cross-entropy <c>ignore_index</c>).</summary>
    public const int IgnoreIndex = -100;

    private readonly LmTokenizer _tokenizer;
    private readonly ChatTemplate? _template;

    public SupervisedTokenizer(LmTokenizer tokenizer, ChatTemplate? template, bool assistantOnlyLoss, bool completionOnlyLoss)
    {
        _tokenizer = tokenizer;
        _template = template;
        AssistantOnlyLoss = assistantOnlyLoss;
        CompletionOnlyLoss = completionOnlyLoss;
    }

    public bool AssistantOnlyLoss { get; }

    /// <summary>The chat template rows are rendered with, or null (text rows only).</summary>
    public ChatTemplate? Template => _template;

    public bool CompletionOnlyLoss { get; }

    /// <summary>Whether <paramref name="row"/> is tokenized as a conversation (it is one, and there is a template for it).</summary>
    public bool RendersAsConversation(SupervisedRow row) => row.Messages is not null || (row.PromptMessages is not null && (_template is not null || row.PromptText is null));

    public SupervisedExample Tokenize(SupervisedRow row)
    {
        if (RendersAsConversation(row))
        {
            var template = _template ?? throw new LmException(ErrorCodes.ChatTemplateMissing,
                $"{row.Where}: the row is a conversation but the tokenizer has no chat_template; give one with --chat-template FILE");
            var messages = row.Messages ?? row.PromptMessages!.Concat(row.CompletionMessages!).ToList();
            var rendered = template.Render(messages, addGenerationPrompt: false);
            string text = rendered.Text;
            int[] ids = _tokenizer.Encode(text, addSpecialTokens: false);
            var keep = new bool[ids.Length];
            Array.Fill(keep, true);
            if (row.Messages is null && CompletionOnlyLoss)
            {
                // TRL: completion_mask = [0] * len(prompt_ids) + [1] * (len(prompt_completion_ids) - len(prompt_ids)).
                int promptTokens = _tokenizer.Encode(template.Render(row.PromptMessages!, addGenerationPrompt: true).Text, addSpecialTokens: false).Length;
                Array.Fill(keep, false, 0, Math.Min(promptTokens, ids.Length));
            }
            if (AssistantOnlyLoss)
            {
                var assistant = new bool[ids.Length];
                foreach (var (first, last) in AssistantTokenSpans(template, messages, rendered, ids))
                    for (int i = first; i < last; i++) assistant[i] = true;
                if (!assistant.Contains(true))
                    throw new LmException(ErrorCodes.NoAssistantTokens,
                        $"{row.Where}: assistant-only loss, but the conversation has no assistant tokens (no assistant turn, or the template writes none); " +
                        "give conversations with an assistant turn or set --assistant-only-loss false");
                for (int i = 0; i < ids.Length; i++) keep[i] &= assistant[i];
            }
            return new SupervisedExample(ids, Labels(ids, keep));
        }
        if (row.PromptText is null)
            throw new LmException(ErrorCodes.ChatRowInvalid, $"{row.Where}: the row has neither messages nor a prompt");
        string completion = row.CompletionText ?? "";
        if (_tokenizer.EosToken is { } eos && !completion.EndsWith(eos, StringComparison.Ordinal)) completion += eos;
        int[] promptIds = _tokenizer.Encode(row.PromptText, addSpecialTokens: true);
        int[] all = _tokenizer.Encode(row.PromptText + completion, addSpecialTokens: true);
        var mask = new bool[all.Length];
        Array.Fill(mask, true);
        if (CompletionOnlyLoss) Array.Fill(mask, false, 0, Math.Min(promptIds.Length, all.Length));
        return new SupervisedExample(all, Labels(all, mask));
    }

    /// <summary>The rendered text of a row (what <c>data preview</c> shows), or the prompt + completion text.</summary>
    public string RenderText(SupervisedRow row)
    {
        if (!RendersAsConversation(row)) return row.PromptText + row.CompletionText;
        var messages = row.Messages ?? row.PromptMessages!.Concat(row.CompletionMessages!).ToList();
        return (_template ?? throw new LmException(ErrorCodes.ChatTemplateMissing,
            $"{row.Where}: the row is a conversation but the tokenizer has no chat_template; give one with --chat-template FILE"))
            .Render(messages, addGenerationPrompt: false).Text;
    }

    /// <summary>The token ranges of the assistant's turns in <paramref name="ids"/>, the tokens of <paramref name="full"/> (see the class remarks).</summary>
    private List<(int First, int End)> AssistantTokenSpans(ChatTemplate template, IReadOnlyList<ChatMessage> messages, RenderedTemplate full, int[] ids)
    {
        if (template.Template.HasGenerationBlocks)
            return full.GenerationSpans.Select(s => (TokenCount(full.Text, s.Start, ids.Length), TokenCount(full.Text, s.End, ids.Length))).ToList();
        var spans = new List<(int, int)>();
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i].Role != "assistant") continue;
            int start = 0;
            if (i > 0)
            {
                try
                {
                    start = CommonPrefix(Encode(template.Render(messages.Take(i).ToList(), addGenerationPrompt: true).Text), ids);
                }
                catch (LmException e) when (e.Code is ErrorCodes.ChatTemplateRenderFailed or ErrorCodes.ChatTemplateRaised)
                {
                    // A template may refuse a conversation cut before an assistant turn; the turn then starts
                    // where the previous assistant span ended.
                    start = spans.Count > 0 ? spans[^1].Item2 : 0;
                }
            }
            // Compared token by token, not character by character: templates that close the conversation (Phi-3's
            // EOS) are not prefix-preserving, and their closing special token is one token that differs from the
            // next turn's, where the characters "<|" would still match.
            int end = CommonPrefix(Encode(template.Render(messages.Take(i + 1).ToList(), addGenerationPrompt: false).Text), ids);
            if (end > start) spans.Add((start, end));
        }
        return spans;
    }

    private int[] Encode(string text) => _tokenizer.Encode(text, addSpecialTokens: false);

    private static int CommonPrefix(int[] a, int[] b)
    {
        int n = Math.Min(a.Length, b.Length), i = 0;
        while (i < n && a[i] == b[i]) i++;
        return i;
    }

    /// <summary>How many tokens the text before <paramref name="position"/> makes (the index of the token a span starts at).</summary>
    private int TokenCount(string text, int position, int total) =>
        position <= 0 ? 0 : position >= text.Length ? total : Math.Min(total, _tokenizer.Encode(text[..position], addSpecialTokens: false).Length);

    private static int[] Labels(int[] ids, bool[] keep)
    {
        var labels = new int[ids.Length];
        for (int i = 0; i < ids.Length; i++) labels[i] = keep[i] ? ids[i] : IgnoreIndex;
        return labels;
    }
}
