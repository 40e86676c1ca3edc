using Lm.Runtime.Data.Chat;
using Lm.Runtime.Errors;
using Lm.Runtime.Tests.Tokenization.Chat;
using Lm.Runtime.Tokenization;
using Lm.Runtime.Tokenization.Chat;

namespace Lm.Runtime.Tests.Data.Chat;

/// <summary>
/// Labels of chat and instruction examples against spans found independently: the rendered string is written by
/// hand, its pieces are cut at the span boundaries by string offsets, and each piece is tokenized on its own (the
/// boundaries fall next to a special token or between a newline and a letter, where byte-level BPE never merges, which
/// the tests check by comparing with the whole text's ids).
/// </summary>
public class SupervisedTokenizerTests
{
    private static readonly Lazy<LmTokenizer> SmolTokenizer = new(() => ChatTokenizers.ChatMl(PublishedChatTemplates.SmolLm2));

    private static ChatMessage M(string role, string content) => new(role, content);

    /// <summary>Pieces of a text tokenized one by one, each with whether its tokens are trained.</summary>
    private static (int[] Ids, int[] Labels) Expected(LmTokenizer tokenizer, params (string Text, bool Trained)[] pieces)
    {
        var ids = new List<int>();
        var labels = new List<int>();
        foreach (var (text, trained) in pieces)
        {
            int[] pieceIds = tokenizer.Encode(text, addSpecialTokens: false);
            ids.AddRange(pieceIds);
            labels.AddRange(pieceIds.Select(id => trained ? id : -100));
        }
        return (ids.ToArray(), labels.ToArray());
    }

    [Fact]
    public void Assistant_only_labels_are_minus_100_exactly_outside_the_assistant_spans()
    {
        var tokenizer = SmolTokenizer.Value;
        var supervised = new SupervisedTokenizer(tokenizer, ChatTemplate.For(tokenizer), assistantOnlyLoss: true, completionOnlyLoss: false);
        var row = new SupervisedRow("test") { Messages = [M("system", "Be kind."), M("user", "Hi there"), M("assistant", "Hello! How are you?"), M("user", "Fine."), M("assistant", "Good to hear.")] };

        string rendered = "<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\nHello! How are you?<|im_end|>\n" +
            "<|im_start|>user\nFine.<|im_end|>\n<|im_start|>assistant\nGood to hear.<|im_end|>\n";
        Assert.Equal(rendered, supervised.RenderText(row));
        // The spans by string offsets: each reply with its end-of-turn marker and the newline after it.
        string first = "Hello! How are you?<|im_end|>\n", second = "Good to hear.<|im_end|>\n";
        int a = rendered.IndexOf(first, StringComparison.Ordinal), b = rendered.IndexOf(second, StringComparison.Ordinal);
        var (ids, labels) = Expected(tokenizer,
            (rendered[..a], false), (first, true), (rendered[(a + first.Length)..b], false), (second, true));

        var example = supervised.Tokenize(row);
        Assert.Equal(tokenizer.Encode(rendered, addSpecialTokens: false), example.InputIds);
        Assert.Equal(ids, example.InputIds);
        Assert.Equal(labels, example.Labels);
        // The end-of-turn token is trained after each reply and nowhere else.
        var endOfTurnLabels = example.InputIds.Select((id, i) => (id, label: example.Labels[i])).Where(p => p.id == ChatTokenizers.ImEnd).Select(p => p.label).ToArray();
        Assert.Equal([-100, -100, ChatTokenizers.ImEnd, -100, ChatTokenizers.ImEnd], endOfTurnLabels);
    }

    [Fact]
    public void Without_assistant_only_loss_every_token_is_trained()
    {
        var tokenizer = SmolTokenizer.Value;
        var supervised = new SupervisedTokenizer(tokenizer, ChatTemplate.For(tokenizer), assistantOnlyLoss: false, completionOnlyLoss: false);
        var example = supervised.Tokenize(new SupervisedRow("test") { Messages = [M("user", "Hi"), M("assistant", "Yo")] });
        Assert.Equal(example.InputIds, example.Labels);
    }

    [Fact]
    public void Generation_blocks_decide_the_assistant_tokens_when_the_template_has_them()
    {
        var tokenizer = ChatTokenizers.ChatMl(PublishedChatTemplates.Qwen25Training);
        var supervised = new SupervisedTokenizer(tokenizer, ChatTemplate.For(tokenizer), assistantOnlyLoss: true, completionOnlyLoss: false);
        var example = supervised.Tokenize(new SupervisedRow("test") { Messages = [M("user", "Hi"), M("assistant", "Yo")] });
        string head = "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant";
        // TRL's training template puts the newline after "assistant" inside the generation block too.
        var (ids, labels) = Expected(tokenizer, (head, false), ("\nYo<|im_end|>\n", true));
        Assert.Equal(ids, example.InputIds);
        Assert.Equal(labels, example.Labels);
    }

    [Fact]
    public void Templates_that_close_the_conversation_keep_each_turns_end_in_its_span()
    {
        // Phi-3 writes EOS after the last turn only when no generation prompt follows: the first reply ends at
        // "<|end|>\n", the last one takes the EOS with it (as TRL's Phi-3 training template marks it).
        var tokenizer = ChatTokenizers.ChatMl(PublishedChatTemplates.Phi3);
        var supervised = new SupervisedTokenizer(tokenizer, ChatTemplate.For(tokenizer), assistantOnlyLoss: true, completionOnlyLoss: false);
        var example = supervised.Tokenize(new SupervisedRow("test") { Messages = [M("user", "Hi"), M("assistant", "Yo"), M("user", "Bye"), M("assistant", "Ciao")] });
        var (ids, labels) = Expected(tokenizer,
            ("<|user|>\nHi<|end|>\n<|assistant|>\n", false), ("Yo<|end|>\n", true),
            ("<|user|>\nBye<|end|>\n<|assistant|>\n", false), ("Ciao<|end|>\n<|im_end|>", true));
        Assert.Equal(ids, example.InputIds);
        Assert.Equal(labels, example.Labels);
    }

    [Fact]
    public void Text_prompt_completion_trains_the_completion_and_the_eos_appended_to_it()
    {
        var tokenizer = SmolTokenizer.Value;
        var supervised = new SupervisedTokenizer(tokenizer, null, assistantOnlyLoss: false, completionOnlyLoss: true);
        var example = supervised.Tokenize(new SupervisedRow("test") { PromptText = "The capital of France is", CompletionText = " Paris." });
        var (ids, labels) = Expected(tokenizer, ("The capital of France is", false), (" Paris.", true), ("<|im_end|>", true));
        Assert.Equal(ids, example.InputIds);
        Assert.Equal(labels, example.Labels);

        var everything = new SupervisedTokenizer(tokenizer, null, assistantOnlyLoss: false, completionOnlyLoss: false)
            .Tokenize(new SupervisedRow("test") { PromptText = "The capital of France is", CompletionText = " Paris.<|im_end|>" });
        Assert.Equal(ids, everything.InputIds);
        Assert.Equal(ids, everything.Labels);
    }

    [Fact]
    public void Alpaca_rows_become_a_user_turn_and_an_assistant_reply()
    {
        using var folder = new Lm.Runtime.Tests.Tokenization.TemporaryFolder();
        string path = Path.Combine(folder.Path, "alpaca.jsonl");
        File.WriteAllText(path, "{\"instruction\": \"Add the numbers.\", \"input\": \"2 and 3\", \"output\": \"5\"}\n{\"instruction\": \"Say hi.\", \"input\": \"\", \"output\": \"Hi!\"}\n");
        Assert.Equal(SupervisedFormat.Instruction, SupervisedRows.Detect(path, "auto", null));
        var rows = SupervisedRows.Read(path, SupervisedFormat.Instruction);

        var tokenizer = SmolTokenizer.Value;
        var chat = new SupervisedTokenizer(tokenizer, ChatTemplate.For(tokenizer), assistantOnlyLoss: true, completionOnlyLoss: true);
        Assert.Equal("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n" +
            "<|im_start|>user\nAdd the numbers.\n\n2 and 3<|im_end|>\n<|im_start|>assistant\n5<|im_end|>\n", chat.RenderText(rows[0]));
        var (ids, labels) = Expected(tokenizer,
            ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nSay hi.<|im_end|>\n<|im_start|>assistant\n", false),
            ("Hi!<|im_end|>\n", true));
        var example = chat.Tokenize(rows[1]);
        Assert.Equal(ids, example.InputIds);
        Assert.Equal(labels, example.Labels);

        // Without a chat template: Stanford Alpaca's prompt, the output (with EOS) trained.
        var text = new SupervisedTokenizer(tokenizer, null, assistantOnlyLoss: false, completionOnlyLoss: true).Tokenize(rows[0]);
        var (textIds, textLabels) = Expected(tokenizer,
            ("Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n" +
             "### Instruction:\nAdd the numbers.\n\n### Input:\n2 and 3\n\n### Response:", false), ("5", true), ("<|im_end|>", true));
        Assert.Equal(textIds, text.InputIds);
        Assert.Equal(textLabels, text.Labels);
    }

    [Fact]
    public void A_conversation_without_an_assistant_turn_is_LM0337_and_a_conversation_without_template_LM0334()
    {
        var tokenizer = SmolTokenizer.Value;
        var supervised = new SupervisedTokenizer(tokenizer, ChatTemplate.For(tokenizer), assistantOnlyLoss: true, completionOnlyLoss: false);
        var error = Assert.Throws<LmException>(() => supervised.Tokenize(new SupervisedRow("chat.jsonl: line 7") { Messages = [M("user", "Hi")] }));
        Assert.Equal(ErrorCodes.NoAssistantTokens, error.Code);
        Assert.Contains("chat.jsonl: line 7", error.Message);

        var noTemplate = ChatTokenizers.ChatMl(null);
        Assert.Equal(ErrorCodes.ChatTemplateMissing, Assert.Throws<LmException>(() => ChatTemplate.For(noTemplate)).Code);
        var untemplated = new SupervisedTokenizer(noTemplate, null, false, false);
        Assert.Equal(ErrorCodes.ChatTemplateMissing,
            Assert.Throws<LmException>(() => untemplated.Tokenize(new SupervisedRow("x") { Messages = [M("user", "Hi"), M("assistant", "Yo")] })).Code);
    }
}
