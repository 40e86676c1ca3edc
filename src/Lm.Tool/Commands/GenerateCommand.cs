using System.CommandLine;
using System.Text;
using System.Text.Json.Nodes;
using Lm.Runtime.Errors;
using Lm.Runtime.Generation;
using Lm.Runtime.Models;
using Lm.Runtime.Tokenization.Chat;
using Lm.Runtime.Native;
using Lm.Tool.Cli;

namespace Lm.Tool.Commands;

/// <summary>
/// <c>lm-tune generate --model M "prompt"</c>: continues prompts with a causal LM as HF's <c>generate</c> does: the
/// model's generation_config.json gives the defaults (greedy unless it says <c>do_sample</c>), flags override them;
/// several prompts (<c>--prompt</c> repeated, <c>--file</c>) run as one left-padded batch.
/// </summary>
internal static class GenerateCommand
{
    public static Command Create(LmTuneApp app)
    {
        var prompt = new Argument<string?>("prompt") { Description = "The text to continue", Arity = ArgumentArity.ZeroOrOne };
        var prompts = new Option<string[]>("--prompt")
        {
            Description = "A text to continue; repeat it to generate for several prompts in one batch",
            AllowMultipleArgumentsPerToken = false,
        };
        var file = new Option<string?>("--file") { Description = "A UTF-8 text file with one prompt per line (empty lines are skipped)" };
        var defaults = new GenerationOptions();
        var maxNewTokens = new Option<int>("--max-new-tokens")
        {
            Description = $"Tokens to add at most (default: generation_config.json's max_new_tokens or max_length, else {defaults.MaxNewTokens})",
        };
        var maxLength = new Option<int>("--max-length") { Description = "Prompt plus new tokens at most (HF's max_length); --max-new-tokens wins" };
        var doSample = new Option<bool>("--do-sample") { Description = "Sample instead of taking the most likely token (default: generation_config.json's do_sample, else greedy)" };
        var temperature = new Option<double>("--temperature") { Description = "Sampling temperature (default 1.0)" };
        var topK = new Option<int>("--top-k") { Description = "Sample among the k most likely tokens; 0 = all (default 50)" };
        var topP = new Option<double>("--top-p") { Description = "Sample among the most likely tokens whose probability reaches p (default 1.0)" };
        var repetitionPenalty = new Option<double>("--repetition-penalty") { Description = "Penalise tokens already in the text, prompt included; 1.0 = off (default)" };
        var seed = new Option<long?>("--seed") { Description = "Seed for sampling (reproducible output)" };
        var chat = new Option<bool>("--chat") { Description = "Treat the prompt as the user's turn of a conversation rendered with the chat template; print the assistant's reply" };
        var system = new Option<string?>("--system") { Description = "With --chat: a system turn before the user's" };
        var chatTemplate = new Option<string?>("--chat-template") { Description = "With --chat: a Jinja chat template file instead of the tokenizer's", HelpName = "file" };
        var modelOptions = new JobOptions(f => f.Section == "model");
        var command = new Command("generate", "Continue prompts with a causal language model (GPT-2, Llama, Qwen2, Mistral)")
        {
            prompt, prompts, file, maxNewTokens, maxLength, doSample, temperature, topK, topP, repetitionPenalty, seed, chat, system, chatTemplate,
        };
        modelOptions.AddTo(command);

        app.SetAction(command, async invocation =>
        {
            var texts = PromptTexts(invocation.Get(prompt), invocation.Get(prompts), invocation.Get(file));
            bool asChat = invocation.Get(chat);
            if (!asChat && (invocation.Given(system) || invocation.Given(chatTemplate)))
                throw new LmException(ErrorCodes.InvalidOption, "--system and --chat-template go with --chat");
            if (asChat && texts.Count != 1)
                throw new LmException(ErrorCodes.InvalidOption, "--chat takes one prompt: the user's turn");
            var args = modelOptions.Read(invocation).Model;
            // Flags checked before the model loads: a typo costs no download.
            var overrides = new GenerationOptions();
            T Flag<T>(Option<T> option, T fallback) => invocation.Given(option) ? invocation.Get(option)! : fallback;
            overrides = overrides with
            {
                MaxNewTokens = Flag(maxNewTokens, overrides.MaxNewTokens),
                MaxLength = invocation.Given(maxLength) ? invocation.Get(maxLength) : null,
                DoSample = true, // a flag out of range is refused even when the model ends up greedy, which ignores it
                Temperature = Flag(temperature, overrides.Temperature),
                TopK = Flag(topK, overrides.TopK),
                TopP = Flag(topP, overrides.TopP),
                RepetitionPenalty = Flag(repetitionPenalty, overrides.RepetitionPenalty),
            };
            overrides.Validate();

            var source = await ModelSource.ResolveAsync(args, invocation.Output.Info, invocation.Output.Detail, invocation.Cancellation);
            if (source.Objective(args) != "clm")
                throw new LmException(ErrorCodes.WrongModelKind,
                    $"'{source.Name}' is a masked language model ({source.Config.ModelType}); it cannot generate text. Use 'lm-tune fill-mask' with it.");
            TorchRuntime.EnsureLoaded();
            using var model = source.CreateModel(args, seed: 42);
            model.eval();
            var tokenizer = source.Tokenizer;

            // HF: generate(**kwargs) updates a copy of model.generation_config with the keyword arguments given.
            var options = GenerationConfigReader.Read(model, tokenizer.EosTokenId);
            if (invocation.Given(maxNewTokens)) options = options with { MaxNewTokens = invocation.Get(maxNewTokens), MaxLength = null };
            else if (invocation.Given(maxLength)) options = options with { MaxLength = invocation.Get(maxLength) };
            options = options with
            {
                DoSample = Flag(doSample, options.DoSample),
                Temperature = Flag(temperature, options.Temperature),
                TopK = Flag(topK, options.TopK),
                TopP = Flag(topP, options.TopP),
                RepetitionPenalty = Flag(repetitionPenalty, options.RepetitionPenalty),
                Seed = invocation.Get(seed),
                // The tokenizer pads the batch with its pad token when the generation config names none (HF's tokenizer
                // pads, generate then fills finished rows with pad_token_id or the first eos id).
                PadTokenId = options.PadTokenId ?? tokenizer.PadTokenId,
            };
            options.Validate();

            // --chat: apply_chat_template([system?, user], add_generation_prompt=True), tokenized without added
            // special tokens (the template writes them), as transformers' chat pipeline does.
            string? rendered = asChat ? RenderChat(tokenizer, texts[0], invocation.Get(system), invocation.Get(chatTemplate)) : null;
            var promptIds = rendered is not null
                ? new[] { (IReadOnlyList<long>)tokenizer.Encode(rendered, addSpecialTokens: false).Select(i => (long)i).ToArray() }
                : texts.Select(text => (IReadOnlyList<long>)tokenizer.Encode(text).Select(i => (long)i).ToArray()).ToArray();
            for (int i = 0; i < promptIds.Length; i++)
                if (promptIds[i].Count == 0)
                    throw new LmException(ErrorCodes.InvalidOption,
                        $"prompt {i + 1} gives no tokens; give some text to continue");
            var results = TextGenerator.GenerateBatch(model, promptIds, options, cancellation: invocation.Cancellation);

            var rows = new JsonArray();
            var text = new StringBuilder();
            for (int i = 0; i < texts.Count; i++)
            {
                int[] newIds = results[i].NewTokenIds.Select(id => (int)id).ToArray();
                string newText = tokenizer.Decode(newIds, skipSpecialTokens: true);
                rows.Add(new JsonObject
                {
                    ["prompt"] = texts[i],
                    ["generated_text"] = texts[i] + newText,
                    ["new_text"] = newText,
                    ["prompt_token_ids"] = new JsonArray(promptIds[i].Select(id => (JsonNode?)JsonValue.Create(id)).ToArray()),
                    ["new_token_ids"] = new JsonArray(newIds.Select(id => (JsonNode?)JsonValue.Create(id)).ToArray()),
                    ["stop_reason"] = results[i].StopReason,
                });
                if (i > 0) text.AppendLine();
                text.AppendLine(texts[i] + newText);
            }
            var json = new JsonObject { ["model"] = source.Name };
            // One prompt keeps its fields at the top level too, as before batches existed.
            if (texts.Count == 1)
                foreach (var (key, value) in rows[0]!.AsObject()) json[key] = value?.DeepClone();
            json["do_sample"] = options.DoSample;
            json["results"] = rows;
            string printed = text.ToString().TrimEnd('\n');
            if (rendered is not null)
            {
                // The reply alone is printed; the JSON keeps the rendered conversation it continues.
                string reply = rows[0]!["new_text"]!.GetValue<string>();
                foreach (var row in new[] { json, rows[0]!.AsObject() })
                {
                    row["chat"] = true;
                    row["rendered_prompt"] = rendered;
                    row["generated_text"] = rendered + reply;
                }
                printed = reply;
            }
            return new CommandResult(json, o => o.WriteLine(printed));
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

    /// <summary>The prompts in order: the argument, each <c>--prompt</c>, then each non-empty line of <c>--file</c>.</summary>
    private static IReadOnlyList<string> PromptTexts(string? argument, string[]? options, string? file)
    {
        var texts = new List<string>();
        if (argument is not null) texts.Add(argument);
        if (options is not null) texts.AddRange(options);
        if (file is not null)
        {
            string content;
            try
            {
                content = File.ReadAllText(file, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or DecoderFallbackException or ArgumentException or NotSupportedException)
            {
                throw new LmException(ErrorCodes.PromptFileUnusable, $"Cannot read the prompt file {file}: {e.Message}") { File = file };
            }
            var lines = content.TrimStart('\uFEFF').Split('\n').Select(line => line.TrimEnd('\r')).Where(line => line.Length > 0).ToList();
            if (lines.Count == 0)
                throw new LmException(ErrorCodes.PromptFileUnusable, $"The prompt file {file} holds no prompt (one per line, empty lines skipped).") { File = file };
            texts.AddRange(lines);
        }
        if (texts.Count == 0)
            throw new LmException(ErrorCodes.InvalidOption, "no prompt given: pass the text to continue, --prompt TEXT (repeatable) or --file FILE");
        return texts;
    }
}
