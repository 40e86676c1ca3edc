using System.Text.Json.Nodes;
using Lm.Runtime.Errors;
using Lm.Runtime.Files;
using Lm.Runtime.Models;

namespace Lm.Runtime.Generation;

/// <summary>
/// A model's generation defaults as HF's <c>generate</c> takes them from <c>model.generation_config</c>: the
/// generation_config.json the model was loaded with, else <c>GenerationConfig.from_model_config</c> (the special-token ids
/// of config.json). Options a caller passes then override single fields, as keyword arguments to <c>generate</c> do.
/// </summary>
public static class GenerationConfigReader
{
    /// <summary>
    /// The options <paramref name="model"/>'s generation config sets, HF's defaults for the rest. The end-of-sequence ids
    /// come from the generation config, else config.json, else <paramref name="tokenizerEosTokenId"/> (lm-tune's last
    /// resort, so a model folder without either still stops at its tokenizer's eos token).
    /// </summary>
    public static GenerationOptions Read(LanguageModel model, int? tokenizerEosTokenId = null)
    {
        var options = new GenerationOptions();
        // PretrainedModel checked the types and ranges when it loaded the file.
        var file = model.GenerationConfig is JsonObject json
            ? new JsonFields(json, PretrainedModel.GenerationConfigFile, ErrorCodes.InvalidGenerationConfig)
            : null;
        if (file is not null) options = Apply(options, file);
        IReadOnlyList<long>? eos = file?.LongOrList("eos_token_id");
        if (eos is null)
        {
            if (model.Config is Gpt2Config { EosTokenId: int gpt2Eos }) eos = [gpt2Eos];
            else if (model.Config is LlamaFamilyConfig { EosTokenIds.Count: > 0 } llama) eos = llama.EosTokenIds;
            else if (tokenizerEosTokenId is int tokenizerEos) eos = [tokenizerEos];
        }
        long? pad = file?.Long("pad_token_id");
        if (pad is null && file is null && model.Config is LlamaFamilyConfig { PadTokenId: int llamaPad }) pad = llamaPad;
        return options with { EosTokenIds = eos ?? Array.Empty<long>(), PadTokenId = pad };
    }

    /// <summary>The fields of a generation_config.json that lm-tune's generation uses, over <paramref name="options"/>.</summary>
    private static GenerationOptions Apply(GenerationOptions options, JsonFields file)
    {
        // HF: max_new_tokens, when set, wins over max_length; max_length alone counts the prompt.
        if (file.Int("max_new_tokens", min: 0) is int maxNewTokens) options = options with { MaxNewTokens = maxNewTokens };
        else if (file.Int("max_length", min: 0) is int maxLength) options = options with { MaxLength = maxLength };
        // An explicit null is HF's None: that warper or processor is not built, which is what these values mean.
        return options with
        {
            DoSample = file.Bool("do_sample") ?? options.DoSample,
            Temperature = file.Double("temperature") ?? (IsNull(file, "temperature") ? 1.0 : options.Temperature),
            TopK = file.Int("top_k", min: 0) ?? (IsNull(file, "top_k") ? 0 : options.TopK),
            TopP = file.Double("top_p") ?? (IsNull(file, "top_p") ? 1.0 : options.TopP),
            RepetitionPenalty = file.Double("repetition_penalty") ?? (IsNull(file, "repetition_penalty") ? 1.0 : options.RepetitionPenalty),
        };
    }

    private static bool IsNull(JsonFields file, string key) => file.Json.ContainsKey(key) && file.Json[key] is null;
}
