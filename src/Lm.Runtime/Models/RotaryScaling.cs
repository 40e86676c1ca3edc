using System.Text.Json.Nodes;
using Lm.Runtime.Checkpoints;
using Lm.Runtime.Errors;
using Lm.Runtime.Native;
using static TorchSharp.torch;
using Lm.Runtime.Files;

namespace Lm.Runtime.Models;

/// <summary>
/// HF's rotary inverse frequencies (<c>modeling_rope_utils.py</c>, <c>ROPE_INIT_FUNCTIONS</c>) for the
/// <c>rope_scaling</c> types lm-tune implements: <c>default</c>, <c>linear</c>, <c>dynamic</c> (NTK) and <c>llama3</c>.
/// Every step is a float32 tensor operation in HF's order, so the frequencies are HF's to the last bit.
/// </summary>
public sealed record RotaryScaling(string RopeType, double Factor, double LowFreqFactor, double HighFreqFactor, long OriginalMaxPositionEmbeddings)
{
    /// <summary>The <c>rope_scaling</c> types implemented.</summary>
    public static IReadOnlyList<string> SupportedTypes { get; } = ["default", "linear", "dynamic", "llama3"];

    /// <summary>Reads <c>rope_scaling</c> (null: default); LM0140 names the key that is unsupported or out of range.</summary>
    public static RotaryScaling Parse(LlamaFamilyConfig config)
    {
        if (config.RopeScaling is not JsonObject scaling) return new RotaryScaling("default", 1, 1, 1, config.MaxPositionEmbeddings);
        var fields = new JsonFields(scaling, $"{config.ModelType} config rope_scaling", ErrorCodes.RopeScalingUnsupported);
        // HF renamed "type" to "rope_type" and still accepts the old key.
        string type = fields.String("rope_type") ?? fields.String("type") ?? "default";
        if (!SupportedTypes.Contains(type))
            throw fields.Error(fields.Has("rope_type") ? "rope_type" : "type",
                $"is '{type}', which lm-tune does not implement ({string.Join(", ", SupportedTypes)}); its positions would differ from HF's");
        if (type == "default") return new RotaryScaling(type, 1, 1, 1, config.MaxPositionEmbeddings);
        double factor = fields.Double("factor", finite: true) ?? throw fields.Error("factor", $"is missing (a number, required by '{type}')");
        // linear may compress (factor < 1); dynamic and llama3 only stretch.
        if (factor <= 0 || (factor < 1 && type != "linear"))
            throw fields.Error("factor", $"must be {(type == "linear" ? "positive" : "at least 1")}, got {factor}");
        if (type != "llama3") return new RotaryScaling(type, factor, 1, 1, config.MaxPositionEmbeddings);
        double low = fields.Double("low_freq_factor", finite: true) ?? throw fields.Error("low_freq_factor", "is missing (required by 'llama3')");
        double high = fields.Double("high_freq_factor", finite: true) ?? throw fields.Error("high_freq_factor", "is missing (required by 'llama3')");
        long original = fields.Long("original_max_position_embeddings", min: 1)
            ?? throw fields.Error("original_max_position_embeddings", "is missing (required by 'llama3')");
        if (!(low > 0 && high > low)) throw fields.Error("high_freq_factor", $"must be greater than low_freq_factor ({low}), which must be positive");
        return new RotaryScaling(type, factor, low, high, original);
    }

    /// <summary>
    /// The float32 inverse frequencies for heads of width <paramref name="dim"/>, on the CPU. <paramref name="sequenceLength"/>
    /// (the largest position + 1) matters only to <c>dynamic</c>, which stretches θ once a sequence outgrows
    /// max_position_embeddings (HF's <c>_dynamic_frequency_update</c>).
    /// </summary>
    public Tensor InverseFrequencies(double theta, int dim, long sequenceLength)
    {
        using var scope = NewDisposeScope();
        Tensor baseValue = full([], ScalarCache.Of(theta), dtype: ScalarType.Float32);
        if (RopeType == "dynamic" && sequenceLength > OriginalMaxPositionEmbeddings)
        {
            // _compute_dynamic_ntk_parameters: base × ((factor × seq_len / max) − (factor − 1))^(dim / (dim − 2)), where
            // HF's seq_len is a tensor, so the arithmetic runs in float32 as here.
            var stretch = full([], sequenceLength, dtype: ScalarType.Int64).mul(ScalarCache.Of(Factor))
                .div(ScalarCache.Of((double)OriginalMaxPositionEmbeddings)).sub(ScalarCache.Of(Factor - 1))
                .pow(ScalarCache.Of((double)dim / (dim - 2)));
            baseValue = baseValue.mul(stretch);
        }
        // _compute_default_rope_parameters: 1 / θ^(arange(0, dim, 2) / dim), in float32.
        var exponents = arange(0, dim, 2, dtype: ScalarType.Int64).to(ScalarType.Float32).div(ScalarCache.Of((double)dim));
        var inverse = baseValue.pow(exponents).reciprocal();
        if (RopeType == "linear") inverse = inverse.div(ScalarCache.Of(Factor));
        if (RopeType == "llama3") inverse = Llama3(inverse);
        return inverse.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <c>_compute_llama3_parameters</c>: long wavelengths (beyond the original context / low_freq_factor) are divided by
    /// the factor, short ones (below context / high_freq_factor) kept, and those between interpolated smoothly.
    /// </summary>
    private Tensor Llama3(Tensor inverse)
    {
        using var scope = NewDisposeScope();
        double lowFreqWavelen = OriginalMaxPositionEmbeddings / LowFreqFactor;
        double highFreqWavelen = OriginalMaxPositionEmbeddings / HighFreqFactor;
        var wavelen = inverse.reciprocal().mul(ScalarCache.Of(2 * Math.PI));
        var scaled = where(wavelen.gt(ScalarCache.Of(lowFreqWavelen)), inverse.div(ScalarCache.Of(Factor)), inverse);
        var smooth = wavelen.reciprocal().mul(ScalarCache.Of((double)OriginalMaxPositionEmbeddings))
            .sub(ScalarCache.Of(LowFreqFactor)).div(ScalarCache.Of(HighFreqFactor - LowFreqFactor));
        var smoothed = smooth.neg().add(ScalarCache.Of(1.0)).mul(scaled).div(ScalarCache.Of(Factor)).add(smooth.mul(scaled));
        var medium = wavelen.lt(ScalarCache.Of(highFreqWavelen)).logical_not()
            .logical_and(wavelen.gt(ScalarCache.Of(lowFreqWavelen)).logical_not());
        return where(medium, smoothed, scaled).MoveToOuterDisposeScope();
    }
}
