using Lm.Runtime.Errors;
using Lm.Runtime.Tokenization.Chat;

namespace Lm.Runtime.Tests.Tokenization.Chat;

/// <summary>
/// Each published template rendered as transformers' <c>apply_chat_template(messages, tokenize=False)</c> renders it.
/// The expected strings are written by hand from each template's logic.
/// </summary>
public class ChatTemplateTests
{
    private static readonly Dictionary<string, string> LlamaTokens = new() { ["bos_token"] = "<|begin_of_text|>", ["eos_token"] = "<|eot_id|>" };
    private static readonly Dictionary<string, string> MistralTokens = new() { ["bos_token"] = "<s>", ["eos_token"] = "</s>", ["unk_token"] = "<unk>" };
    private static readonly Dictionary<string, string> Phi3Tokens = new() { ["bos_token"] = "<s>", ["eos_token"] = "<|endoftext|>" };
    private static readonly Dictionary<string, string> ChatMlTokens = new() { ["eos_token"] = "<|im_end|>" };

    private static ChatMessage[] Chat(params string[] roleContent) =>
        Enumerable.Range(0, roleContent.Length / 2).Select(i => new ChatMessage(roleContent[2 * i], roleContent[2 * i + 1])).ToArray();

    private static string Render(string template, Dictionary<string, string> tokens, ChatMessage[] messages, bool addGenerationPrompt = false) =>
        new ChatTemplate(template, tokens) { Clock = () => new DateTime(2026, 12, 7, 14, 0, 0) }.Render(messages, addGenerationPrompt).Text;

    [Fact]
    public void SmolLM2_adds_its_default_system_turn_and_the_generation_prompt()
    {
        Assert.Equal(
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n" +
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n",
            Render(PublishedChatTemplates.SmolLm2, ChatMlTokens, Chat("user", "Hi", "assistant", "Hello!")));
        Assert.Equal(
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
            Render(PublishedChatTemplates.SmolLm2, ChatMlTokens, Chat("system", "Be brief.", "user", "Hi"), addGenerationPrompt: true));
    }

    [Fact]
    public void Qwen25_renders_a_system_turn_once_and_its_default_system_otherwise()
    {
        Assert.Equal(
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4.<|im_end|>\n",
            Render(PublishedChatTemplates.Qwen25, ChatMlTokens, Chat("system", "Be brief.", "user", "What is 2+2?", "assistant", "4.")));
        Assert.Equal(
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n" +
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
            Render(PublishedChatTemplates.Qwen25, ChatMlTokens, Chat("user", "Hi"), addGenerationPrompt: true));
    }

    [Fact]
    public void Qwen25_groups_consecutive_tool_responses_in_one_user_turn()
    {
        // Tool turns exercise loop.index0 arithmetic, messages[i] lookups and loop.last.
        Assert.Equal(
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n" +
            "<|im_start|>user\n<tool_response>\nr1\n</tool_response>\n<tool_response>\nr2\n</tool_response><|im_end|>\n",
            Render(PublishedChatTemplates.Qwen25, ChatMlTokens, Chat("system", "S", "user", "Q", "tool", "r1", "tool", "r2")));
    }

    [Fact]
    public void Llama3_trims_contents_and_puts_bos_before_the_first_turn()
    {
        // "'...\n\n' + message['content'] | trim + '<|eot_id|>'": the filter binds to the content alone.
        Assert.Equal(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>" +
            "<|start_header_id|>assistant<|end_header_id|>\n\nYo<|eot_id|>",
            Render(PublishedChatTemplates.Llama3, LlamaTokens, Chat("system", "S", "user", "  Hi \n", "assistant", "Yo")));
        Assert.Equal(
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
            Render(PublishedChatTemplates.Llama3, LlamaTokens, Chat("user", "Hi"), addGenerationPrompt: true));
    }

    [Fact]
    public void Llama32_writes_todays_date_and_lifts_the_system_message()
    {
        Assert.Equal(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n" +
            "Cutting Knowledge Date: December 2023\nToday Date: 07 Dec 2026\n\nYou are terse.<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>" +
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>" +
            "<|start_header_id|>assistant<|end_header_id|>\n\n",
            Render(PublishedChatTemplates.Llama32, LlamaTokens, Chat("system", " You are terse.", "user", "Hi", "assistant", "Hello."), addGenerationPrompt: true));
        Assert.Equal(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n" +
            "Cutting Knowledge Date: December 2023\nToday Date: 07 Dec 2026\n\n<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
            Render(PublishedChatTemplates.Llama32, LlamaTokens, Chat("user", "Hi")));
    }

    [Fact]
    public void Mistral_alternates_turns_with_eos_after_each_reply()
    {
        Assert.Equal(
            "<s>[INST] Hi [/INST]Hello</s> [INST] Bye [/INST]",
            Render(PublishedChatTemplates.Mistral, MistralTokens, Chat("user", "Hi", "assistant", "Hello", "user", "Bye")));
    }

    [Fact]
    public void Mistral_refuses_a_system_turn_with_the_templates_own_message()
    {
        var error = Assert.Throws<LmException>(() => Render(PublishedChatTemplates.Mistral, MistralTokens, Chat("system", "S", "user", "Hi")));
        Assert.Equal(ErrorCodes.ChatTemplateRaised, error.Code);
        Assert.Contains("Conversation roles must alternate user/assistant/user/assistant/...", error.Message);
        Assert.Contains("line 1, column", error.Message);
    }

    [Fact]
    public void Phi3_ends_with_eos_unless_asked_for_the_generation_prompt()
    {
        Assert.Equal(
            "<|system|>\nS<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nYo<|end|>\n<|endoftext|>",
            Render(PublishedChatTemplates.Phi3, Phi3Tokens, Chat("system", "S", "user", "Hi", "assistant", "Yo")));
        Assert.Equal(
            "<|user|>\nHi<|end|>\n<|assistant|>\n",
            Render(PublishedChatTemplates.Phi3, Phi3Tokens, Chat("user", "Hi"), addGenerationPrompt: true));
    }

    [Fact]
    public void Generation_blocks_mark_exactly_the_assistants_output()
    {
        var template = new ChatTemplate(PublishedChatTemplates.Qwen25Training, ChatMlTokens);
        Assert.True(template.Template.HasGenerationBlocks);
        Assert.False(new ChatTemplate(PublishedChatTemplates.Qwen25, ChatMlTokens).Template.HasGenerationBlocks);
        var rendered = template.Render(Chat("user", "Hi", "assistant", "Yo", "user", "Bye", "assistant", "Ciao"), addGenerationPrompt: false);
        Assert.Equal(
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n" +
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nYo<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\nCiao<|im_end|>\n",
            rendered.Text);
        var spans = rendered.GenerationSpans.Select(s => rendered.Text[s.Start..s.End]).ToArray();
        Assert.Equal(["\nYo<|im_end|>\n", "\nCiao<|im_end|>\n"], spans);
    }
}
