using System.Text.Json.Serialization;

namespace Lm.Runtime.Models;

/// <summary>
/// The fields HF's <c>BertConfig</c> and <c>RobertaConfig</c> share (they are separate classes in HF with the
/// same keys and different token-id defaults). Defaults are HF's class defaults (BERT-base shapes); hub configs
/// such as roberta-base override some of them (max_position_embeddings 514, type_vocab_size 1, layer_norm_eps 1e-5).
/// </summary>
public abstract record EncoderConfig : ModelConfig
{
    [JsonPropertyName("hidden_size")] public int HiddenWidth { get; init; } = 768;
    [JsonPropertyName("num_hidden_layers")] public int NumHiddenLayers { get; init; } = 12;
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; init; } = 12;
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; init; } = 3072;

    /// <summary>Activation of the feed-forward block and of BERT's prediction-head transform; HF's erf <c>gelu</c>.</summary>
    [JsonPropertyName("hidden_act")] public string HiddenAct { get; init; } = "gelu";
    [JsonPropertyName("hidden_dropout_prob")] public double HiddenDropoutProb { get; init; } = 0.1;
    [JsonPropertyName("attention_probs_dropout_prob")] public double AttentionProbsDropoutProb { get; init; } = 0.1;
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; init; } = 512;
    [JsonPropertyName("type_vocab_size")] public int TypeVocabSize { get; init; } = 2;
    [JsonPropertyName("layer_norm_eps")] public double LayerNormEps { get; init; } = 1e-12;
    [JsonPropertyName("position_embedding_type")] public string PositionEmbeddingType { get; init; } = "absolute";
    [JsonPropertyName("use_cache")] public bool UseCache { get; init; } = true;
    [JsonPropertyName("classifier_dropout")] public double? ClassifierDropout { get; init; }

    [JsonPropertyName("pad_token_id")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? PadTokenId { get; init; }

    [JsonPropertyName("bos_token_id")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? BosTokenId { get; init; }

    [JsonPropertyName("eos_token_id")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? EosTokenId { get; init; }

    public override int HiddenSize => HiddenWidth;
    public override int LayerCount => NumHiddenLayers;
    public override int HeadCount => NumAttentionHeads;

    public override long ParameterCount()
    {
        long h = HiddenWidth, i = IntermediateSize;
        return checked(
            // word, position and token-type embeddings and their LayerNorm
            (VocabSize + (long)MaxPositionEmbeddings + TypeVocabSize) * h + 2 * h
            // per layer: query, key, value, attention output dense, two LayerNorms, intermediate and output dense
            + NumHiddenLayers * (4 * (h * h + h) + 4 * h + (h * i + i) + (i * h + h))
            // MLM head: transform dense and LayerNorm, the decoder's bias (its weight is the word embedding)
            + (h * h + h) + 2 * h + VocabSize);
    }

    public override void Validate()
    {
        base.Validate();
        Require(IntermediateSize > 0, "intermediate_size must be positive");
        Require(TypeVocabSize > 0, "type_vocab_size must be positive");
        Require(HiddenAct is "gelu" or "relu" or "gelu_new" or "gelu_pytorch_tanh" or "silu" or "swish" or "tanh" or "quick_gelu",
            $"hidden_act '{HiddenAct}' is not supported (gelu, gelu_new, gelu_pytorch_tanh, quick_gelu, relu, silu, tanh)");
        Require(PositionEmbeddingType == "absolute",
            $"position_embedding_type '{PositionEmbeddingType}' is not supported (absolute)");
        Require(HiddenDropoutProb is >= 0 and < 1 && AttentionProbsDropoutProb is >= 0 and < 1,
            "dropout probabilities must be in [0, 1)");
        Require(LayerNormEps > 0, "layer_norm_eps must be positive");
        Require(PadTokenId is null || (PadTokenId >= 0 && PadTokenId < VocabSize),
            $"pad_token_id {PadTokenId} is outside the vocabulary");
    }
}

/// <summary>HF's <c>BertConfig</c> (model_type <c>bert</c>): pad_token_id 0, no bos/eos.</summary>
public sealed record BertConfig : EncoderConfig
{
    public BertConfig()
    {
        VocabSize = 30522;
        PadTokenId = 0;
    }

    public override string ModelType => "bert";
    public override int MaxPositions => MaxPositionEmbeddings;
    public override string ArchitectureName => "BertForMaskedLM";
}

/// <summary>
/// HF's <c>RobertaConfig</c> (model_type <c>roberta</c>): pad 1, bos 0, eos 2. Positions start at
/// <c>pad_token_id + 1</c>, so a sequence holds at most <c>max_position_embeddings - pad_token_id - 1</c> tokens.
/// </summary>
public sealed record RobertaConfig : EncoderConfig
{
    public RobertaConfig()
    {
        VocabSize = 50265;
        PadTokenId = 1;
        BosTokenId = 0;
        EosTokenId = 2;
    }

    public override string ModelType => "roberta";
    public override int MaxPositions => MaxPositionEmbeddings - (PadTokenId ?? 1) - 1;
    public override string ArchitectureName => "RobertaForMaskedLM";

    public override void Validate()
    {
        base.Validate();
        Require(PadTokenId is not null, "RoBERTa needs pad_token_id: position ids start after it");
    }
}
