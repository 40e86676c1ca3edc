using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Lm.Runtime.Models;
using Lm.Runtime.Errors;
using Lm.Runtime.Generation;
using Lm.Runtime.Native;
using Lm.Tool.Cli;
using static TorchSharp.torch;

namespace Lm.Tool.Commands;

/// <summary>
/// <c>lm-tune fill-mask --model M "The capital of France is &lt;mask&gt;."</c>: HF's fill-mask pipeline: for each mask,
/// the <c>top_k</c> tokens with their softmax scores, the token strings and the completed sequences.
/// </summary>
internal static class FillMaskCommand
{
    public static Command Create(LmTuneApp app)
    {
        var text = new Argument<string>("text") { Description = "Text with the model's mask token (<mask> for RoBERTa, [MASK] for BERT)" };
        var topK = new Option<int>("--top-k") { Description = "Candidates per mask", DefaultValueFactory = _ => 5 };
        var modelOptions = new JobOptions(f => f.Section == "model");
        var command = new Command("fill-mask", "Predict the masked tokens of a text with a masked language model (RoBERTa, BERT)") { text, topK };
        modelOptions.AddTo(command);

        app.SetAction(command, async invocation =>
        {
            int k = invocation.Get(topK);
            if (k <= 0) throw new LmException(ErrorCodes.InvalidOption, $"--top-k must be positive, got {k}");
            var args = modelOptions.Read(invocation).Model;
            var source = await ModelSource.ResolveAsync(args, invocation.Output.Info, invocation.Output.Detail, invocation.Cancellation);
            if (source.Objective(args) != "mlm")
                throw new LmException(ErrorCodes.WrongModelKind,
                    $"'{source.Name}' is a causal language model ({source.Config.ModelType}); it has no mask token to fill. Use 'lm-tune generate' with it.");
            var tokenizer = source.Tokenizer;
            if (tokenizer.MaskTokenId is not int maskId)
                throw new LmException(ErrorCodes.NoMaskToken, $"the tokenizer of '{source.Name}' has no mask token");
            string input = invocation.Get(text)!;
            int[] ids = tokenizer.Encode(input);
            if (!ids.Contains(maskId))
                throw new LmException(ErrorCodes.NoMaskToken,
                    $"the text holds no mask token; put {tokenizer.MaskToken} where a word should be predicted");

            TorchRuntime.EnsureLoaded();
            using var model = source.CreateModel(args, seed: 42);
            model.eval();
            var device = model.parameters().First().device;
            var predictions = FillMask.Predict(t => model.Forward(t.to(device)).Logits, ids.Select(i => (long)i).ToArray(), maskId, k, tokenizer.MaskToken ?? "the mask token");

            var masks = new JsonArray();
            var lines = new List<string>();
            foreach (var prediction in predictions)
            {
                var candidates = new JsonArray();
                foreach (var candidate in prediction.Candidates)
                {
                    int[] filled = (int[])ids.Clone();
                    filled[prediction.Position] = (int)candidate.TokenId;
                    string sequence = tokenizer.Decode(filled, skipSpecialTokens: true);
                    string tokenString = tokenizer.Decode(new[] { (int)candidate.TokenId });
                    candidates.Add(new JsonObject
                    {
                        ["score"] = candidate.Score,
                        ["token"] = candidate.TokenId,
                        ["token_str"] = tokenString,
                        ["sequence"] = sequence,
                    });
                    lines.Add($"{candidate.Score.ToString("0.0000", CultureInfo.InvariantCulture)}  {tokenString,-16} {sequence}");
                }
                masks.Add(candidates);
                lines.Add("");
            }
            var json = new JsonObject { ["model"] = source.Name, ["text"] = input, ["masks"] = masks };
            return new CommandResult(json, o => o.Write(string.Join(Environment.NewLine, lines)));
        });
        return command;
    }
}
