namespace Lm.Runtime.Models;

/// <summary>
/// Matches the tensor names of a Hugging Face checkpoint to a model's parameters, accepting the variants found on
/// the hub as <c>from_pretrained</c> does: names without the base-model prefix (the original <c>gpt2</c> upload
/// stores <c>h.0.attn.c_attn.weight</c>), tied aliases present or absent (<c>lm_head.weight</c>,
/// <c>lm_head.decoder.*</c>, <c>cls.predictions.decoder.*</c>), LayerNorm <c>gamma</c>/<c>beta</c> from old BERT
/// uploads, legacy buffers (<c>attn.bias</c>, <c>attn.masked_bias</c>, <c>position_ids</c>), and the parts of
/// pre-training checkpoints a masked-LM model has no use for (the pooler, BERT's next-sentence head).
/// </summary>
internal static class CheckpointKeyMap
{
    /// <summary>Which checkpoint tensor fills each parameter, and what does not fit.</summary>
    public sealed record LoadPlan(IReadOnlyDictionary<string, string> Sources, IReadOnlyList<string> Missing, IReadOnlyList<string> Unexpected);

    public static LoadPlan Plan(LanguageModel model, IEnumerable<string> checkpointKeys)
    {
        var parameters = model.named_parameters().Select(p => p.name).ToHashSet(StringComparer.Ordinal);
        var aliases = model.TiedWeights;
        var sources = new Dictionary<string, string>(StringComparer.Ordinal);
        var aliasSources = new Dictionary<string, string>(StringComparer.Ordinal);
        var unexpected = new List<string>();
        foreach (string key in checkpointKeys)
        {
            string name = Normalize(key, model.BaseModelPrefix, parameters, aliases);
            if (parameters.Contains(name)) sources[name] = key;
            else if (aliases.TryGetValue(name, out string? owner)) aliasSources.TryAdd(owner, key);
            else if (!IsIgnored(name, model) && !IsIgnored(key, model)) unexpected.Add(key);
        }
        // A checkpoint that stores a tied weight only under its alias still fills the owner.
        foreach (var (owner, key) in aliasSources) sources.TryAdd(owner, key);
        var missing = parameters.Where(p => !sources.ContainsKey(p)).Order(StringComparer.Ordinal).ToList();
        unexpected.Sort(StringComparer.Ordinal);
        return new LoadPlan(sources, missing, unexpected);
    }

    private static string Normalize(string key, string prefix, HashSet<string> parameters, IReadOnlyDictionary<string, string> aliases)
    {
        // Old TF-converted uploads name LayerNorm parameters gamma and beta; HF renames them on load.
        if (key.EndsWith(".gamma", StringComparison.Ordinal)) key = key[..^".gamma".Length] + ".weight";
        else if (key.EndsWith(".beta", StringComparison.Ordinal)) key = key[..^".beta".Length] + ".bias";
        if (parameters.Contains(key) || aliases.ContainsKey(key)) return key;
        // A checkpoint of the bare base model (GPT2Model, BertModel) names parameters without the prefix.
        string prefixed = prefix + "." + key;
        return key.StartsWith(prefix + ".", StringComparison.Ordinal) ? key : prefixed;
    }

    private static bool IsIgnored(string name, LanguageModel model)
    {
        if (name.EndsWith(".position_ids", StringComparison.Ordinal)) return true;
        // The rest is the architecture's own rule (legacy buffers, pre-training heads), in its registration.
        return ModelArchitectures.For(model.Config).IsUnusedCheckpointKey(name, model.BaseModelPrefix);
    }
}
