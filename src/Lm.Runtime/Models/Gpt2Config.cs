using System.Text.Json.Serialization;

namespace Lm.Runtime.Models;

/// <summary>
/// HF's <c>GPT2Config</c> (model_type <c>gpt2</c>) with its defaults, which describe the 124M-parameter <c>gpt2</c>.
/// Every key GPT2Config defines is written back, as <c>save_pretrained</c> does.
/// </summary>
public sealed record Gpt2Config : ModelConfig
{
    public Gpt2Config()
    {
        VocabSize = 50257;
    }

    public override string ModelType => "gpt2";

    /// <summary>Longest sequence (position embeddings), HF's <c>n_positions</c>.</summary>
    [JsonPropertyName("n_positions")] public int NPositions { get; init; } = 1024;

    /// <summary>Hidden size, HF's <c>n_embd</c>.</summary>
    [JsonPropertyName("n_embd")] public int NEmbd { get; init; } = 768;

    /// <summary>Number of blocks, HF's <c>n_layer</c>.</summary>
    [JsonPropertyName("n_layer")] public int NLayer { get; init; } = 12;

    /// <summary>Attention heads per block, HF's <c>n_head</c>.</summary>
    [JsonPropertyName("n_head")] public int NHead { get; init; } = 12;

    /// <summary>MLP inner width; null means 4 × <see cref="NEmbd"/>.</summary>
    [JsonPropertyName("n_inner")] public int? NInner { get; init; }

    /// <summary>MLP activation; GPT-2 uses <c>gelu_new</c> (tanh approximation written out as HF does).</summary>
    [JsonPropertyName("activation_function")] public string ActivationFunction { get; init; } = "gelu_new";

    [JsonPropertyName("resid_pdrop")] public double ResidPdrop { get; init; } = 0.1;
    [JsonPropertyName("embd_pdrop")] public double EmbdPdrop { get; init; } = 0.1;
    [JsonPropertyName("attn_pdrop")] public double AttnPdrop { get; init; } = 0.1;
    [JsonPropertyName("layer_norm_epsilon")] public double LayerNormEpsilon { get; init; } = 1e-5;

    // Sequence-summary settings belong to GPT2DoubleHeadsModel; kept so a round trip writes what HF writes.
    [JsonPropertyName("summary_type")] public string SummaryType { get; init; } = "cls_index";
    [JsonPropertyName("summary_use_proj")] public bool SummaryUseProj { get; init; } = true;
    [JsonPropertyName("summary_activation")] public string? SummaryActivation { get; init; }
    [JsonPropertyName("summary_first_dropout")] public double SummaryFirstDropout { get; init; } = 0.1;
    [JsonPropertyName("summary_proj_to_labels")] public bool SummaryProjToLabels { get; init; } = true;

    /// <summary>Divide attention scores by sqrt(head size).</summary>
    [JsonPropertyName("scale_attn_weights")] public bool ScaleAttnWeights { get; init; } = true;
    [JsonPropertyName("use_cache")] public bool UseCache { get; init; } = true;

    /// <summary>Also divide block i's attention scores by i + 1 (Mistral's stability trick).</summary>
    [JsonPropertyName("scale_attn_by_inverse_layer_idx")] public bool ScaleAttnByInverseLayerIdx { get; init; }

    /// <summary>Compute attention scores in fp32 with the scale applied before the product (HF's upcast path).</summary>
    [JsonPropertyName("reorder_and_upcast_attn")] public bool ReorderAndUpcastAttn { get; init; }

    [JsonPropertyName("bos_token_id")] public int? BosTokenId { get; init; } = 50256;
    [JsonPropertyName("eos_token_id")] public int? EosTokenId { get; init; } = 50256;

    public override int MaxPositions => NPositions;
    public override int HiddenSize => NEmbd;
    public override int LayerCount => NLayer;
    public override int HeadCount => NHead;
    public override string ArchitectureName => "GPT2LMHeadModel";

    public override long ParameterCount() => checked(
        // wte, wpe, ln_f
        (long)VocabSize * NEmbd + (long)NPositions * NEmbd + 2L * NEmbd
        // per block: ln_1, ln_2, c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj (Conv1D weights and biases)
        + NLayer * (4L * NEmbd + (3L * NEmbd * NEmbd + 3L * NEmbd) + ((long)NEmbd * NEmbd + NEmbd)
                    + ((long)NEmbd * InnerSize + InnerSize) + ((long)InnerSize * NEmbd + NEmbd)));

    /// <summary>MLP inner width: <see cref="NInner"/> or 4 × <see cref="NEmbd"/> (checked: <see cref="Validate"/> bounds n_embd).</summary>
    [JsonIgnore] public int InnerSize => NInner ?? checked(4 * NEmbd);

    public override void Validate()
    {
        // 3 × n_embd (c_attn) and 4 × n_embd (the default n_inner) are int sizes of tensors: they must not wrap around.
        Bound(NEmbd <= int.MaxValue / 4, $"n_embd {NEmbd} is too large: 4 × n_embd must fit a 32-bit size");
        base.Validate();
        Require(InnerSize > 0, "n_inner must be positive");
        Require(ActivationFunction is "gelu_new" or "gelu" or "relu" or "gelu_pytorch_tanh" or "quick_gelu" or "silu" or "swish" or "tanh",
            $"activation_function '{ActivationFunction}' is not supported (gelu_new, gelu, gelu_pytorch_tanh, quick_gelu, relu, silu, tanh)");
        Require(ResidPdrop is >= 0 and < 1 && EmbdPdrop is >= 0 and < 1 && AttnPdrop is >= 0 and < 1,
            "dropout probabilities must be in [0, 1)");
        Require(LayerNormEpsilon > 0, "layer_norm_epsilon must be positive");
    }
}
