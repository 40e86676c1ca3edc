using System.Text.RegularExpressions;
using TorchSharp;
using TorchSharp.Modules;

namespace Lm.Runtime.Training;

/// <summary>
/// Hugging Face's two AdamW parameter groups: weight decay for every parameter except biases and normalisation
/// weights. Follows <c>Trainer.get_decay_parameter_names</c> of transformers 4.57 (the release run_clm.py targets):
/// a parameter gets no decay when it lives inside a <c>LayerNorm</c> module or when its lower-cased name matches
/// <c>bias</c>, <c>layernorm</c>, <c>rmsnorm</c>, <c>(^|.)norm($|.)</c> or <c>_norm($|.)</c>. Older releases
/// only excluded LayerNorm modules and names containing <c>bias</c>; for GPT-2, RoBERTa and BERT both
/// rules give the same groups.
/// </summary>
public static partial class OptimizerGroups
{
    /// <summary>Parameter names (as <c>named_parameters()</c> gives them) that weight decay applies to, in model order.</summary>
    public static IReadOnlyList<string> DecayParameterNames(torch.nn.Module model)
    {
        var insideLayerNorm = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (prefix, module) in model.named_modules())
        {
            if (prefix.Length == 0 || module is not LayerNorm) continue;
            foreach (var (name, _) in module.named_parameters()) insideLayerNorm.Add(prefix + "." + name);
        }
        return model.named_parameters()
            .Select(p => p.name)
            .Where(name => !insideLayerNorm.Contains(name) && !NoDecayName().IsMatch(name.ToLowerInvariant()))
            .ToList();
    }

    /// <summary>
    /// The trainable parameters split as HF's <c>create_optimizer</c> does: first the decayed group, then the rest
    /// (weight decay 0), each in model order.
    /// </summary>
    public static (IReadOnlyList<(string Name, Parameter Parameter)> Decay, IReadOnlyList<(string Name, Parameter Parameter)> NoDecay)
        Split(torch.nn.Module model)
    {
        var decayNames = new HashSet<string>(DecayParameterNames(model), StringComparer.Ordinal);
        var trainable = model.named_parameters().Where(p => p.parameter.requires_grad).ToList();
        return (trainable.Where(p => decayNames.Contains(p.name)).ToList(),
                trainable.Where(p => !decayNames.Contains(p.name)).ToList());
    }

    [GeneratedRegex(@"bias|layernorm|rmsnorm|(?:^|\.)norm(?:$|\.)|_norm(?:$|\.)", RegexOptions.CultureInvariant)]
    private static partial Regex NoDecayName();
}
