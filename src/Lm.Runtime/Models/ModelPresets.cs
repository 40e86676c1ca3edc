using Lm.Runtime.Errors;

namespace Lm.Runtime.Models;

/// <summary>
/// Named configurations: the hub checkpoints' shapes (<c>gpt2</c>, <c>distilgpt2</c>, <c>roberta-base</c>,
/// <c>distilroberta-base</c>, <c>bert-base-uncased</c>, <c>smollm2-135m</c>, <c>qwen2.5-0.5b</c>, <c>llama-3.2-1b</c>,
/// with the values of their config.json) and tiny ones for demos and quick starts that keep a real vocabulary (so a
/// built-in tokenizer fits; GPT-2's for <c>tiny-llama</c> and <c>tiny-qwen2</c>) but are 64 wide and 2 layers deep.
/// </summary>
public static class ModelPresets
{
    // Each architecture's presets are part of its registration (ModelArchitectures.cs).
    private static readonly Dictionary<string, Func<ModelConfig>> Presets = ModelArchitectures.All
        .SelectMany(a => a.Presets).ToDictionary(p => p.Key, p => p.Value, StringComparer.OrdinalIgnoreCase);

    /// <summary>The preset names.</summary>
    public static IReadOnlyList<string> Names { get; } = Presets.Keys.ToArray();

    /// <summary>True when <paramref name="name"/> is a preset.</summary>
    public static bool Contains(string name) => Presets.ContainsKey(name);

    /// <summary>The configuration named <paramref name="name"/> (with <c>architectures</c> set); LM0112 when there is none.</summary>
    public static ModelConfig Config(string name)
    {
        if (!Presets.TryGetValue(name, out var create))
            throw new LmException(ErrorCodes.UnknownModelPreset,
                $"There is no model preset '{name}'; presets: {string.Join(", ", Names)}.");
        var config = create();
        return config with { Architectures = [config.ArchitectureName] };
    }

    /// <summary>A randomly initialised model (HF's initialisation) of the preset, seeded when asked.</summary>
    public static LanguageModel Create(string name, long? seed = null) => LanguageModel.Create(Config(name), seed);
}
