using System.CommandLine;
using System.Text.Json.Nodes;
using Lm.Runtime.Checkpoints;
using Lm.Runtime.Errors;
using Lm.Runtime.Generation;
using Lm.Runtime.Tokenization.Chat;
using Lm.Runtime.Models;
using Lm.Runtime.Native;
using Lm.Tool.Cli;
using static TorchSharp.torch;
using Lm.Runtime.Files;

namespace Lm.Tool.Commands;

/// <summary>
/// <c>lm-tune generate --model M "prompt"</c>: continues a prompt with a causal LM as HF's <c>generate</c> does
/// (greedy by default; <c>--do-sample</c> with temperature, top-k, top-p and a seed).
/// </summary>
internal static class GenerateCommand
{
    public static Command Create(LmTuneApp app)
    {
        var prompt = new Argument<string>("prompt") { Description = "The text to continue" };
        var defaults = new GenerationOptions();
        var maxNewTokens = new Option<int>("--max-new-tokens") { Description = "Tokens to add at most", DefaultValueFactory = _ => defaults.MaxNewTokens };
        var doSample = new Option<bool>("--do-sample") { Description = "Sample instead of taking the most likely token (greedy)" };
        var temperature = new Option<double>("--temperature") { Description = "Sampling temperature", DefaultValueFactory = _ => defaults.Temperature };
        var topK = new Option<int>("--top-k") { Description = "Sample among the k most likely tokens; 0 = all", DefaultValueFactory = _ => defaults.TopK };
        var topP = new Option<double>("--top-p") { Description = "Sample among the most likely tokens whose probability reaches p", DefaultValueFactory = _ => defaults.TopP };
        var seed = new Option<long?>("--seed") { Description = "Seed for sampling (reproducible output)" };
        var chat = new Option<bool>("--chat") { Description = "Treat the prompt as the user's turn of a conversation rendered with the chat template; print the assistant's reply" };
        var system = new Option<string?>("--system") { Description = "With --chat: a system turn before the user's" };
        var chatTemplate = new Option<string?>("--chat-template") { Description = "With --chat: a Jinja chat template file instead of the tokenizer's", HelpName = "file" };
        var modelOptions = new JobOptions(f => f.Section == "model");
        var command = new Command("generate", "Continue a prompt with a causal language model (GPT-2 family)")
        {
            prompt, maxNewTokens, doSample, temperature, topK, topP, seed, chat, system, chatTemplate,
        };
        modelOptions.AddTo(command);

        app.SetAction(command, async invocation =>
        {
            var options = new GenerationOptions
            {
                MaxNewTokens = invocation.Get(maxNewTokens),
                DoSample = invocation.Get(doSample),
                Temperature = invocation.Get(temperature),
                TopK = invocation.Get(topK),
                TopP = invocation.Get(topP),
                Seed = invocation.Get(seed),
            };
            options.Validate();
            var args = modelOptions.Read(invocation.Parse).Model;
            var source = await ModelSource.ResolveAsync(args, invocation.Output, invocation.Cancellation);
            if (source.Objective(args) != "clm")
                throw new LmException(ErrorCodes.WrongModelKind,
                    $"'{source.Name}' is a masked language model ({source.Config.ModelType}); it cannot generate text. Use 'lm-tune fill-mask' with it.");
            TorchRuntime.EnsureLoaded();
            using var model = source.CreateModel(args, seed: 42);
            model.eval();
            var tokenizer = source.Tokenizer;
            string text = invocation.Get(prompt)!;
            bool asChat = invocation.Get(chat);
            if (!asChat && (invocation.Given(system) || invocation.Given(chatTemplate)))
                throw new LmException(ErrorCodes.InvalidOption, "--system and --chat-template go with --chat");
            // --chat: apply_chat_template([system?, user], add_generation_prompt=True), tokenized without added
            // special tokens (the template writes them), as transformers' chat pipeline does.
            string? rendered = asChat ? RenderChat(tokenizer, text, invocation.Get(system), invocation.Get(chatTemplate)) : null;
            long[] promptIds = (rendered is null ? tokenizer.Encode(text) : tokenizer.Encode(rendered, addSpecialTokens: false)).Select(i => (long)i).ToArray();
            if (promptIds.Length == 0)
                throw new LmException(ErrorCodes.InvalidOption, "the prompt is empty; give some text to continue");
            options = options with { EosTokenIds = EosTokenIds(model, tokenizer.EosTokenId) };
            var result = TextGenerator.Generate(model, promptIds, options, cancellation: invocation.Cancellation);
            int[] newIds = result.NewTokenIds.Select(i => (int)i).ToArray();
            string newText = tokenizer.Decode(newIds, skipSpecialTokens: true);
            var json = new JsonObject
            {
                ["model"] = source.Name,
                ["prompt"] = text,
                ["generated_text"] = text + newText,
                ["new_text"] = newText,
                ["prompt_token_ids"] = new JsonArray(promptIds.Select(i => (JsonNode?)JsonValue.Create(i)).ToArray()),
                ["new_token_ids"] = new JsonArray(newIds.Select(i => (JsonNode?)JsonValue.Create(i)).ToArray()),
                ["stop_reason"] = result.StopReason,
                ["do_sample"] = options.DoSample,
            };
            if (rendered is not null)
            {
                json["chat"] = true;
                json["rendered_prompt"] = rendered;
                json["generated_text"] = rendered + newText;
                return new CommandResult(json, o => o.WriteLine(newText));
            }
            return new CommandResult(json, o => o.WriteLine(text + newText));
        });
        return command;
    }

    private static string RenderChat(Lm.Runtime.Tokenization.LmTokenizer tokenizer, string user, string? system, string? templateFile)
    {
        var messages = new List<ChatMessage>();
        if (system is not null) messages.Add(new ChatMessage("system", system));
        messages.Add(new ChatMessage("user", user));
        return ChatTemplate.For(tokenizer, templateFile).Render(messages, addGenerationPrompt: true).Text;
    }

    /// <summary>The end-of-sequence ids as HF's <c>generate</c> finds them: generation_config.json, else config.json, else the tokenizer.</summary>
    private static IReadOnlyList<long> EosTokenIds(LanguageModel model, int? tokenizerEos)
    {
        // PretrainedModel checked the file's types and ranges when it loaded it.
        if (model.GenerationConfig is JsonObject generation
            && new JsonFields(generation, PretrainedModel.GenerationConfigFile, ErrorCodes.InvalidGenerationConfig).LongOrList("eos_token_id") is { } ids)
            return ids;
        if (model.Config is Gpt2Config { EosTokenId: int eos }) return new long[] { eos };
        if (model.Config is LlamaFamilyConfig { EosTokenIds.Count: > 0 } llama) return llama.EosTokenIds;
        return tokenizerEos is int id ? new long[] { id } : Array.Empty<long>();
    }
}
