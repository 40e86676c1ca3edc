using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lm.Runtime.Models;
using Lm.Runtime.Errors;
using Lm.Runtime.Hub;
using Lm.Runtime.Tokenization;
using Lm.Tool.Cli;

namespace Lm.Tool.Commands;

/// <summary>
/// <c>lm-tune tokenize --model M "text"</c> (or <c>--file F</c>): <c>tokenizer(text)["input_ids"]</c>, the tokens
/// (<c>convert_ids_to_tokens</c>) and <c>tokenizer.decode(ids)</c>. Reads only the tokenizer files: no weights, no
/// libtorch.
/// </summary>
internal static class TokenizeCommand
{
    /// <summary>Tokens and text shown as JSON strings, escaping only what a terminal cannot show (Ġ stays Ġ).</summary>
    private static readonly JsonSerializerOptions s_readable = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Command Create(LmTuneApp app)
    {
        var text = new Argument<string?>("text") { Description = "Text to tokenize", Arity = ArgumentArity.ZeroOrOne };
        var file = new Option<string?>("--file") { Description = "Tokenize the whole content of this UTF-8 file instead" };
        var addSpecialTokens = new Option<bool>("--add-special-tokens")
        {
            Description = "Wrap the text in the tokenizer's special tokens, as tokenizer(text) does",
            DefaultValueFactory = _ => true,
        };
        var modelOptions = new JobOptions(f => f.Section == "model");
        var command = new Command("tokenize", "Show the ids, tokens and decoded text a model's tokenizer gives a text") { text, file, addSpecialTokens };
        modelOptions.AddTo(command);

        app.SetAction(command, async invocation =>
        {
            string? inline = invocation.Get(text);
            string? path = invocation.Get(file);
            if ((inline is null) == (path is null))
            {
                throw new LmException(ErrorCodes.InvalidOption, "give the text to tokenize either as an argument or with --file, not both and not neither");
            }

            if (path is not null && !File.Exists(path))
            {
                throw new LmException(ErrorCodes.DataFileNotFound, $"--file '{path}' does not exist") { File = path };
            }

            string input = inline ?? await File.ReadAllTextAsync(path!, invocation.Cancellation);
            var args = modelOptions.Read(invocation).Model;
            LmTokenizer tokenizer = await ResolveTokenizerAsync(args, invocation);
            int[] ids = tokenizer.Encode(input, invocation.Get(addSpecialTokens));
            string[] tokens = ids.Select(id => tokenizer.ConvertIdToToken(id) ?? string.Empty).ToArray();
            string decoded = tokenizer.Decode(ids);

            var json = new JsonObject
            {
                ["input_ids"] = new JsonArray(ids.Select(id => (JsonNode)id).ToArray()),
                ["tokens"] = new JsonArray(tokens.Select(t => (JsonNode)t).ToArray()),
                ["decoded"] = decoded,
            };
            return new CommandResult(json, o =>
            {
                o.WriteLine($"input_ids: [{string.Join(", ", ids)}]");
                o.WriteLine($"tokens:    [{string.Join(", ", tokens.Select(t => JsonSerializer.Serialize(t, s_readable)))}]");
                o.WriteLine($"decoded:   {JsonSerializer.Serialize(decoded, s_readable)}");
            });
        });
        return command;
    }

    /// <summary>
    /// <c>--tokenizer-name</c>, else <c>--model</c>: a folder or hub id read with <see cref="LmTokenizer.FromPretrained"/>,
    /// or a <c>tiny-*</c> preset's built-in vocabulary.
    /// </summary>
    private static async Task<LmTokenizer> ResolveTokenizerAsync(Runtime.Models.ModelArguments args, CommandInvocation invocation)
    {
        string? name = !string.IsNullOrWhiteSpace(args.TokenizerName) ? args.TokenizerName : args.ModelNameOrPath;
        if (string.IsNullOrWhiteSpace(name) || (name == args.ModelNameOrPath && !Directory.Exists(name) && ModelSource.IsRandomInitPreset(name)))
        {
            return (await ModelSource.ResolveAsync(args, invocation.Output.Info, invocation.Output.Detail, invocation.Cancellation)).Tokenizer;
        }

        string folder = Directory.Exists(name)
            ? name
            : await ModelLocator.ResolveAsync(name, args.ModelRevision, HubSettings.FromEnvironment(args.CacheDir), invocation.Output.Info, invocation.Cancellation);
        return LmTokenizer.FromPretrained(folder);
    }
}
