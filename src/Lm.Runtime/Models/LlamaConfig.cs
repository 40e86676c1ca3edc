using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Lm.Runtime.Checkpoints;
using Lm.Runtime.Errors;
using Lm.Runtime.Files;

namespace Lm.Runtime.Models;

/// <summary>
/// The keys HF's <c>LlamaConfig</c>, <c>Qwen2Config</c> and <c>MistralConfig</c> share: one decoder (RMSNorm, rotary
/// positions, grouped-query attention, a SiLU-gated MLP) that the three families configure differently (biases,
/// <c>head_dim</c>, sliding windows). <see cref="LlamaForCausalLM"/> builds all three.
/// </summary>
public abstract record LlamaFamilyConfig : ModelConfig
{
    protected LlamaFamilyConfig()
    {
        // HF's class default; config.json files write the key, and save_pretrained always writes it back.
        TieWordEmbeddings = false;
    }

    [JsonPropertyName("hidden_size")] public int HiddenWidth { get; init; } = 4096;
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; init; } = 11008;
    [JsonPropertyName("num_hidden_layers")] public int NumHiddenLayers { get; init; } = 32;
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; init; } = 32;

    /// <summary>Key/value heads of grouped-query attention; null means one per query head (HF's default).</summary>
    [JsonPropertyName("num_key_value_heads")] public int? NumKeyValueHeads { get; init; }

    [JsonPropertyName("hidden_act")] public string HiddenAct { get; init; } = "silu";
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; init; } = 2048;
    [JsonPropertyName("rms_norm_eps")] public double RmsNormEps { get; init; } = 1e-6;
    [JsonPropertyName("use_cache")] public bool UseCache { get; init; } = true;

    /// <summary>The rotary base θ: <c>inv_freq = 1/θ^(2i/d)</c>.</summary>
    [JsonPropertyName("rope_theta")] public double RopeTheta { get; init; } = 10000.0;

    /// <summary>HF's <c>rope_scaling</c> dict (<c>rope_type</c> or legacy <c>type</c>: default, linear, dynamic, llama3); null for none.</summary>
    [JsonPropertyName("rope_scaling")] public JsonObject? RopeScaling { get; init; }

    [JsonPropertyName("attention_dropout")] public double AttentionDropout { get; init; }

    [JsonPropertyName("bos_token_id")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? BosTokenId { get; init; }

    /// <summary>HF's <c>eos_token_id</c>: one id or a list of ids (Llama 3 instruct models stop at several).</summary>
    [JsonPropertyName("eos_token_id")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public JsonNode? EosTokenId { get; init; }

    /// <summary>The padding token; its embedding row gets no gradient (HF builds <c>nn.Embedding(..., padding_idx)</c>).</summary>
    [JsonPropertyName("pad_token_id")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? PadTokenId { get; init; }

    public override int MaxPositions => MaxPositionEmbeddings;
    public override int HiddenSize => HiddenWidth;
    public override int LayerCount => NumHiddenLayers;
    public override int HeadCount => NumAttentionHeads;

    /// <summary>Key/value heads: <see cref="NumKeyValueHeads"/> or one per attention head.</summary>
    [JsonIgnore] public int KeyValueHeadCount => NumKeyValueHeads ?? NumAttentionHeads;

    /// <summary>Width of one head: the config's <c>head_dim</c> when the family has one, else hidden_size / heads.</summary>
    [JsonIgnore] public int HeadDim => ExplicitHeadDim ?? HiddenWidth / NumAttentionHeads;

    /// <summary>True when the output projection is the token embedding (<c>tie_word_embeddings</c>).</summary>
    [JsonIgnore] public bool TiesWordEmbeddings => TieWordEmbeddings ?? false;

    /// <summary>The end-of-sequence ids (<c>eos_token_id</c> as a list; empty when unset).</summary>
    [JsonIgnore]
    public IReadOnlyList<long> EosTokenIds =>
        EosTokenId is null ? [] : new JsonFields(new JsonObject { ["eos_token_id"] = EosTokenId.DeepClone() }, "config.json",
            ErrorCodes.InvalidModelConfig).LongOrList("eos_token_id")!;

    /// <summary>The family's <c>head_dim</c> key (Llama, Mistral), null when absent or the family has none (Qwen2).</summary>
    protected abstract int? ExplicitHeadDim { get; }

    /// <summary>Whether q_proj, k_proj and v_proj have biases (Llama: attention_bias; Qwen2: always).</summary>
    [JsonIgnore] public abstract bool QkvBias { get; }

    /// <summary>Whether o_proj has a bias (Llama: attention_bias; Qwen2 and Mistral: never).</summary>
    [JsonIgnore] public abstract bool OutputBias { get; }

    /// <summary>Whether the MLP projections have biases (Llama's mlp_bias).</summary>
    [JsonIgnore] public abstract bool MlpBias { get; }

    /// <summary>The sliding-window width layer <paramref name="layerIndex"/> attends within, or null for full attention.</summary>
    public abstract int? SlidingWindowFor(int layerIndex);

    protected override bool HeadsMustDivideHidden => ExplicitHeadDim is null;

    protected override bool SupportsUntiedEmbeddings => true;

    public override long ParameterCount()
    {
        long h = HiddenWidth, i = IntermediateSize, d = HeadDim, q = checked(NumAttentionHeads * d), kv = checked(KeyValueHeadCount * d);
        return checked(
            // embed_tokens, the final norm, and lm_head when it is a parameter of its own
            (long)VocabSize * h + h + (TiesWordEmbeddings ? 0 : (long)VocabSize * h)
            + NumHiddenLayers * (
                // q, k, v, o projections and their biases
                h * q + 2 * h * kv + q * h + (QkvBias ? q + 2 * kv : 0) + (OutputBias ? h : 0)
                // gate, up, down projections and their biases
                + 3 * h * i + (MlpBias ? 2 * i + h : 0)
                // input_layernorm and post_attention_layernorm
                + 2 * h));
    }

    public override void Validate()
    {
        Require(NumAttentionHeads > 0, "num_attention_heads must be positive");
        Require(KeyValueHeadCount > 0 && NumAttentionHeads % KeyValueHeadCount == 0,
            $"num_attention_heads ({NumAttentionHeads}) must be a multiple of num_key_value_heads ({KeyValueHeadCount})");
        Require(ExplicitHeadDim is null or > 0, "head_dim must be positive");
        // Projection widths (heads × head_dim) and the MLP width are tensor sizes: they must stay sane 32-bit sizes.
        Bound((long)NumAttentionHeads * HeadDim <= int.MaxValue, $"num_attention_heads × head_dim ({NumAttentionHeads} × {HeadDim}) must fit a 32-bit size");
        base.Validate();
        Require(HeadDim % 2 == 0, $"the head dimension ({HeadDim}) must be even: rotary embeddings rotate pairs of halves");
        Require(IntermediateSize > 0, "intermediate_size must be positive");
        Require(HiddenAct is "silu" or "swish" or "gelu" or "gelu_new" or "gelu_pytorch_tanh" or "relu" or "tanh" or "quick_gelu",
            $"hidden_act '{HiddenAct}' is not supported (silu, gelu, gelu_new, gelu_pytorch_tanh, quick_gelu, relu, tanh)");
        Require(RmsNormEps > 0, "rms_norm_eps must be positive");
        Require(RopeTheta > 0 && double.IsFinite(RopeTheta), "rope_theta must be a positive number");
        Require(AttentionDropout is >= 0 and < 1, "attention_dropout must be in [0, 1)");
        Require(PadTokenId is null || (PadTokenId >= 0 && PadTokenId < VocabSize), $"pad_token_id {PadTokenId} is outside the vocabulary");
        Require(BosTokenId is null or >= 0, "bos_token_id must not be negative");
        Require(EosTokenId is null or JsonValue or JsonArray, "eos_token_id must be a whole number or a list of whole numbers");
        _ = EosTokenIds;
        for (int layer = 0; layer < NumHiddenLayers; layer++)
            Require(SlidingWindowFor(layer) is null or > 0, "sliding_window must be positive");
        _ = RotaryScaling.Parse(this);
    }
}

/// <summary>
/// HF's <c>LlamaConfig</c> (model_type <c>llama</c>), with its class defaults (Llama-2-7B shapes). Also the
/// configuration of SmolLM2, TinyLlama and Llama 3.x checkpoints.
/// </summary>
public sealed record LlamaConfig : LlamaFamilyConfig
{
    public LlamaConfig()
    {
        VocabSize = 32000;
        BosTokenId = 1;
        EosTokenId = 2;
    }

    public override string ModelType => "llama";
    public override string ArchitectureName => "LlamaForCausalLM";

    /// <summary>Biases on all four attention projections.</summary>
    [JsonPropertyName("attention_bias")] public bool AttentionBias { get; init; }

    /// <summary>Biases on gate_proj, up_proj and down_proj.</summary>
    [JsonPropertyName("mlp_bias")] public bool MlpBiasFlag { get; init; }

    [JsonPropertyName("head_dim")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? HeadDimension { get; init; }

    /// <summary>Tensor-parallel slicing of Meta's pre-training; mathematically the same model, kept for the round trip.</summary>
    [JsonPropertyName("pretraining_tp")] public int PretrainingTp { get; init; } = 1;

    protected override int? ExplicitHeadDim => HeadDimension;
    public override bool QkvBias => AttentionBias;
    public override bool OutputBias => AttentionBias;
    public override bool MlpBias => MlpBiasFlag;
    public override int? SlidingWindowFor(int layerIndex) => null;
}

/// <summary>
/// HF's <c>Qwen2Config</c> (model_type <c>qwen2</c>): q/k/v projections with biases, o_proj without; a sliding window
/// only when <c>use_sliding_window</c> is true, and then only on layers from <c>max_window_layers</c> on (HF's
/// <c>layer_types</c> rule).
/// </summary>
public sealed record Qwen2Config : LlamaFamilyConfig
{
    public Qwen2Config()
    {
        VocabSize = 151936;
        IntermediateSize = 22016;
        MaxPositionEmbeddings = 32768;
        NumKeyValueHeads = 32;
    }

    public override string ModelType => "qwen2";
    public override string ArchitectureName => "Qwen2ForCausalLM";

    [JsonPropertyName("use_sliding_window")] public bool UseSlidingWindow { get; init; }

    [JsonPropertyName("sliding_window")] public int? SlidingWindow { get; init; } = 4096;

    [JsonPropertyName("max_window_layers")] public int MaxWindowLayers { get; init; } = 28;

    protected override int? ExplicitHeadDim => null;
    public override bool QkvBias => true;
    public override bool OutputBias => false;
    public override bool MlpBias => false;

    public override int? SlidingWindowFor(int layerIndex) =>
        UseSlidingWindow && SlidingWindow is not null && layerIndex >= MaxWindowLayers ? SlidingWindow : null;
}

/// <summary>
/// HF's <c>MistralConfig</c> (model_type <c>mistral</c>): Llama without biases, 8 key/value heads by default, and a
/// sliding window of <c>sliding_window</c> tokens on every layer unless it is null (Mistral-7B-v0.1: 4096).
/// </summary>
public sealed record MistralConfig : LlamaFamilyConfig
{
    public MistralConfig()
    {
        VocabSize = 32000;
        IntermediateSize = 14336;
        NumKeyValueHeads = 8;
        MaxPositionEmbeddings = 4096 * 32;
        BosTokenId = 1;
        EosTokenId = 2;
    }

    public override string ModelType => "mistral";
    public override string ArchitectureName => "MistralForCausalLM";

    [JsonPropertyName("sliding_window")] public int? SlidingWindow { get; init; } = 4096;

    [JsonPropertyName("head_dim")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? HeadDimension { get; init; }

    protected override int? ExplicitHeadDim => HeadDimension;
    public override bool QkvBias => false;
    public override bool OutputBias => false;
    public override bool MlpBias => false;
    public override int? SlidingWindowFor(int layerIndex) => SlidingWindow;
}
