using Lm.Runtime.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Lm.Runtime.Models;

// BERT as Hugging Face transformers computes it (modeling_bert.py, 4.46): word + token-type + position embeddings,
// post-LayerNorm encoder layers with erf GELU, and the masked-LM head tied to the word embeddings. The encoder
// classes here are also RoBERTa's (HF's RoBERTa copies them; the parameter names are the same).
// Linear projections run through call(), not forward(), so a LoRA layer (Models/Lora/LoraLayer.cs) hooked on them applies.
#pragma warning disable IDE1006 // snake_case and LayerNorm fields are the checkpoint format

/// <summary>
/// HF's <c>BertForMaskedLM</c>: <c>bert.*</c> (no pooler) and <c>cls.predictions.*</c>, whose decoder is the word
/// embedding itself; HF's <c>cls.predictions.decoder.weight</c> and <c>.bias</c> are aliases, never extra parameters.
/// </summary>
public sealed class BertForMaskedLM : LanguageModel
{
    private static readonly IReadOnlyDictionary<string, string> Tied = new Dictionary<string, string>
    {
        ["cls.predictions.decoder.weight"] = "bert.embeddings.word_embeddings.weight",
        ["cls.predictions.decoder.bias"] = "cls.predictions.bias",
    };

    private readonly EncoderModel bert;
    private readonly BertOnlyMlmHead cls;

    /// <summary>Builds the model; with <paramref name="initialize"/> it gets HF's initialisation (seed the torch RNG first).</summary>
    public BertForMaskedLM(BertConfig config, bool initialize = true)
        : base(nameof(BertForMaskedLM), config)
    {
        bert = new EncoderModel(config, robertaPositions: false);
        if (initialize) bert.InitializeWeights();
        cls = new BertOnlyMlmHead(config);
        RegisterComponents();
        if (initialize) cls.InitializeWeights();
    }

    public override TrainingObjective Objective => TrainingObjective.MaskedLm;

    public override string BaseModelPrefix => "bert";

    public override IReadOnlyDictionary<string, string> TiedWeights => Tied;

    protected override void SetGradientCheckpointing(bool enabled) => bert.GradientCheckpointing = enabled;

    public override LinearHeadInput ForwardToHead(Tensor inputIds, Tensor? attentionMask = null)
    {
        CheckSequenceLength(inputIds);
        return cls.predictions.HeadInput(bert.Forward(inputIds, attentionMask), bert.embeddings.word_embeddings.weight!);
    }

    public override LanguageModelOutput Forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? labels = null)
    {
        using var scope = NewDisposeScope();
        var logits = ForwardToHead(inputIds, attentionMask).Logits();
        var loss = labels is null ? null : MaskedLmLoss(logits, labels);
        return new LanguageModelOutput(loss?.MoveToOuterDisposeScope(), logits.MoveToOuterDisposeScope());
    }
}

/// <summary>HF's <c>BertOnlyMLMHead</c>: holds <c>predictions</c>.</summary>
internal sealed class BertOnlyMlmHead : nn.Module
{
    internal readonly BertLmPredictionHead predictions;

    public BertOnlyMlmHead(BertConfig config)
        : base("BertOnlyMLMHead")
    {
        predictions = new BertLmPredictionHead(config);
        RegisterComponents();
    }

    public void InitializeWeights() => predictions.InitializeWeights();
}

/// <summary>HF's <c>BertLMPredictionHead</c>: transform (dense, activation, LayerNorm), then the tied decoder plus <c>bias</c>.</summary>
internal sealed class BertLmPredictionHead : nn.Module
{
    private readonly BertConfig config;
    private readonly BertPredictionHeadTransform transform;
    private readonly Parameter bias;

    public BertLmPredictionHead(BertConfig config)
        : base("BertLMPredictionHead")
    {
        this.config = config;
        transform = new BertPredictionHeadTransform(config);
        // HF builds decoder = nn.Linear(hidden, vocab, bias=False) here; tying replaces its weight.
        HfInit.DiscardedLinearConstruction(config.HiddenWidth, config.VocabSize, bias: false);
        bias = nn.Parameter(zeros(config.VocabSize));
        RegisterComponents();
    }

    public void InitializeWeights()
    {
        using var noGrad = no_grad();
        transform.InitializeWeights(config.InitializerRange);
        HfInit.DiscardedLinearInitialization(config.HiddenWidth, config.VocabSize, config.InitializerRange);
        bias.zero_();
    }

    /// <summary>The decoder's input (the transformed hidden states), its tied weight and <c>bias</c>.</summary>
    public LinearHeadInput HeadInput(Tensor hidden, Tensor wordEmbeddings) => new(transform.forward(hidden), wordEmbeddings, bias);
}

/// <summary>HF's <c>BertPredictionHeadTransform</c>: dense, <c>hidden_act</c>, LayerNorm.</summary>
internal sealed class BertPredictionHeadTransform : nn.Module<Tensor, Tensor>
{
    private readonly string activation;
    private readonly Linear dense;
    private readonly LayerNorm LayerNorm;

    public BertPredictionHeadTransform(BertConfig config)
        : base("BertPredictionHeadTransform")
    {
        activation = config.HiddenAct;
        dense = nn.Linear(config.HiddenWidth, config.HiddenWidth);
        LayerNorm = nn.LayerNorm(config.HiddenWidth, config.LayerNormEps);
        RegisterComponents();
    }

    public void InitializeWeights(double std)
    {
        HfInit.Linear(dense, std);
        HfInit.LayerNorm(LayerNorm);
    }

    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        return LayerNorm.forward(HfActivations.Apply(activation, dense.call(hidden))).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// HF's <c>BertModel</c> / <c>RobertaModel</c> without the pooler (HF builds MaskedLM models with
/// <c>add_pooling_layer=False</c>): embeddings, then the encoder.
/// </summary>
internal sealed class EncoderModel : nn.Module
{
    internal readonly EncoderEmbeddings embeddings;
    private readonly BertEncoder encoder;

    public EncoderModel(EncoderConfig config, bool robertaPositions)
        : base(robertaPositions ? "RobertaModel" : "BertModel")
    {
        embeddings = new EncoderEmbeddings(config, robertaPositions);
        encoder = new BertEncoder(config);
        RegisterComponents();
    }

    public void InitializeWeights()
    {
        using var noGrad = no_grad();
        embeddings.InitializeWeights();
        encoder.InitializeWeights();
    }

    /// <summary>HF's <c>BertEncoder.gradient_checkpointing</c>.</summary>
    public bool GradientCheckpointing
    {
        get => encoder.gradient_checkpointing;
        set => encoder.gradient_checkpointing = value;
    }

    public Tensor Forward(Tensor inputIds, Tensor? attentionMask)
    {
        using var scope = NewDisposeScope();
        var hidden = embeddings.Forward(inputIds);
        // As HF with SDPA: an all-ones (or absent) mask is dropped; padding becomes an additive mask of the dtype's minimum.
        var mask = AttentionMasks.MasksNothing(attentionMask) ? null : AttentionMasks.PaddingMask(attentionMask!, hidden.dtype);
        return encoder.Forward(hidden, mask).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// HF's <c>BertEmbeddings</c> / <c>RobertaEmbeddings</c>: word + token type (all type 0), then + position, LayerNorm,
/// dropout. RoBERTa's positions count real tokens from <c>pad_token_id + 1</c> and padding keeps <c>pad_token_id</c>.
/// </summary>
internal sealed class EncoderEmbeddings : nn.Module
{
    private readonly EncoderConfig config;
    private readonly bool robertaPositions;
    internal readonly Embedding word_embeddings;
    private readonly Embedding position_embeddings;
    private readonly Embedding token_type_embeddings;
    private readonly LayerNorm LayerNorm;
    private readonly TorchDropout dropout;

    public EncoderEmbeddings(EncoderConfig config, bool robertaPositions)
        : base(robertaPositions ? "RobertaEmbeddings" : "BertEmbeddings")
    {
        this.config = config;
        this.robertaPositions = robertaPositions;
        word_embeddings = nn.Embedding(config.VocabSize, config.HiddenWidth, padding_idx: config.PadTokenId);
        position_embeddings = nn.Embedding(config.MaxPositionEmbeddings, config.HiddenWidth);
        token_type_embeddings = nn.Embedding(config.TypeVocabSize, config.HiddenWidth);
        LayerNorm = nn.LayerNorm(config.HiddenWidth, config.LayerNormEps);
        dropout = new TorchDropout(config.HiddenDropoutProb);
        if (robertaPositions)
        {
            // RobertaEmbeddings builds BERT's position embedding, then replaces it by one with padding_idx.
            position_embeddings.Dispose();
            position_embeddings = nn.Embedding(config.MaxPositionEmbeddings, config.HiddenWidth, padding_idx: config.PadTokenId);
        }
        RegisterComponents();
    }

    public void InitializeWeights()
    {
        double std = config.InitializerRange;
        HfInit.Embedding(word_embeddings, std, config.PadTokenId);
        HfInit.Embedding(position_embeddings, std, robertaPositions ? config.PadTokenId : null);
        HfInit.Embedding(token_type_embeddings, std, null);
        HfInit.LayerNorm(LayerNorm);
    }

    public Tensor Forward(Tensor inputIds)
    {
        using var scope = NewDisposeScope();
        var positions = robertaPositions
            ? RobertaPositionIds(inputIds, config.PadTokenId!.Value)
            : arange(inputIds.shape[1], dtype: ScalarType.Int64, device: inputIds.device).unsqueeze(0);
        var tokenTypes = zeros_like(inputIds);
        var sum = word_embeddings.forward(inputIds).add(token_type_embeddings.forward(tokenTypes));
        sum = sum.add(position_embeddings.forward(positions));
        return dropout.forward(LayerNorm.forward(sum)).MoveToOuterDisposeScope();
    }

    /// <summary>HF's <c>create_position_ids_from_input_ids</c>: cumulative count of real tokens times the mask, plus padding_idx.</summary>
    internal static Tensor RobertaPositionIds(Tensor inputIds, long paddingIdx)
    {
        using var scope = NewDisposeScope();
        var mask = inputIds.ne(ScalarCache.Of(paddingIdx)).to(ScalarType.Int32);
        var incremental = mask.cumsum(1, ScalarType.Int32).mul(mask);
        return incremental.to(ScalarType.Int64).add(ScalarCache.Of(paddingIdx)).MoveToOuterDisposeScope();
    }
}

/// <summary>HF's <c>BertEncoder</c>: the list <c>layer</c>.</summary>
internal sealed class BertEncoder : nn.Module
{
    private readonly ModuleList<BertLayer> layer;

    /// <summary>HF's <c>BertEncoder.gradient_checkpointing</c>: checkpoint each layer while training.</summary>
    internal bool gradient_checkpointing;

    public BertEncoder(EncoderConfig config)
        : base("BertEncoder")
    {
        layer = nn.ModuleList(Enumerable.Range(0, config.NumHiddenLayers).Select(_ => new BertLayer(config)).ToArray());
        RegisterComponents();
    }

    public void InitializeWeights()
    {
        foreach (var l in layer) l.InitializeWeights();
    }

    public Tensor Forward(Tensor hidden, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        foreach (var l in layer)
            hidden = gradient_checkpointing && training
                ? GradientCheckpoint.Run(l, x => l.Forward(x[0]!, x[1]), hidden, mask)
                : l.Forward(hidden, mask);
        return hidden.MoveToOuterDisposeScope();
    }
}

/// <summary>HF's <c>BertLayer</c>: attention, then intermediate (dense + activation) and output (dense, dropout, residual LayerNorm).</summary>
internal sealed class BertLayer : nn.Module
{
    private readonly EncoderConfig config;
    private readonly BertAttention attention;
    private readonly BertIntermediate intermediate;
    private readonly BertResidualOutput output;

    public BertLayer(EncoderConfig config)
        : base("BertLayer")
    {
        this.config = config;
        attention = new BertAttention(config);
        intermediate = new BertIntermediate(config);
        output = new BertResidualOutput(config.IntermediateSize, config, "BertOutput");
        RegisterComponents();
    }

    public void InitializeWeights()
    {
        attention.InitializeWeights();
        intermediate.InitializeWeights(config.InitializerRange);
        output.InitializeWeights(config.InitializerRange);
    }

    public Tensor Forward(Tensor hidden, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        var attended = attention.Forward(hidden, mask);
        return output.Forward(intermediate.forward(attended), attended).MoveToOuterDisposeScope();
    }
}

/// <summary>HF's <c>BertAttention</c>: <c>self</c> (q, k, v) and <c>output</c> (dense, dropout, residual LayerNorm).</summary>
internal sealed class BertAttention : nn.Module
{
    private readonly EncoderConfig config;
    private readonly BertSelfAttention self;
    private readonly BertResidualOutput output;

    public BertAttention(EncoderConfig config)
        : base("BertAttention")
    {
        this.config = config;
        self = new BertSelfAttention(config);
        output = new BertResidualOutput(config.HiddenWidth, config, "BertSelfOutput");
        RegisterComponents();
    }

    public void InitializeWeights()
    {
        self.InitializeWeights(config.InitializerRange);
        output.InitializeWeights(config.InitializerRange);
    }

    public Tensor Forward(Tensor hidden, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        return output.Forward(self.Forward(hidden, mask), hidden).MoveToOuterDisposeScope();
    }
}

/// <summary>HF's <c>BertSdpaSelfAttention</c>: bidirectional scaled dot-product attention over the heads.</summary>
internal sealed class BertSelfAttention : nn.Module
{
    private readonly EncoderConfig config;
    private readonly Linear query;
    private readonly Linear key;
    private readonly Linear value;

    public BertSelfAttention(EncoderConfig config)
        : base("BertSelfAttention")
    {
        this.config = config;
        query = nn.Linear(config.HiddenWidth, config.HiddenWidth);
        key = nn.Linear(config.HiddenWidth, config.HiddenWidth);
        value = nn.Linear(config.HiddenWidth, config.HiddenWidth);
        RegisterComponents();
    }

    public void InitializeWeights(double std)
    {
        HfInit.Linear(query, std);
        HfInit.Linear(key, std);
        HfInit.Linear(value, std);
    }

    public Tensor Forward(Tensor hidden, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        long batch = hidden.shape[0], length = hidden.shape[1];
        int heads = config.NumAttentionHeads, headSize = config.HiddenWidth / heads;
        Tensor Heads(Linear projection) => projection.call(hidden).view(batch, length, heads, headSize).permute(0, 2, 1, 3);
        var context = nn.functional.scaled_dot_product_attention(Heads(query), Heads(key), Heads(value), mask,
            p: training ? config.AttentionProbsDropoutProb : 0.0, is_casual: false);
        return context.transpose(1, 2).reshape(batch, length, config.HiddenWidth).MoveToOuterDisposeScope();
    }
}

/// <summary>HF's <c>BertIntermediate</c>: dense to the intermediate size, then <c>hidden_act</c>.</summary>
internal sealed class BertIntermediate : nn.Module<Tensor, Tensor>
{
    private readonly string activation;
    private readonly Linear dense;

    public BertIntermediate(EncoderConfig config)
        : base("BertIntermediate")
    {
        activation = config.HiddenAct;
        dense = nn.Linear(config.HiddenWidth, config.IntermediateSize);
        RegisterComponents();
    }

    public void InitializeWeights(double std) => HfInit.Linear(dense, std);

    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        return HfActivations.Apply(activation, dense.call(hidden)).MoveToOuterDisposeScope();
    }
}

/// <summary>HF's <c>BertSelfOutput</c> and <c>BertOutput</c>: LayerNorm(dropout(dense(x)) + residual).</summary>
internal sealed class BertResidualOutput : nn.Module
{
    private readonly Linear dense;
    private readonly LayerNorm LayerNorm;
    private readonly TorchDropout dropout;

    public BertResidualOutput(int inFeatures, EncoderConfig config, string name)
        : base(name)
    {
        dense = nn.Linear(inFeatures, config.HiddenWidth);
        LayerNorm = nn.LayerNorm(config.HiddenWidth, config.LayerNormEps);
        dropout = new TorchDropout(config.HiddenDropoutProb);
        RegisterComponents();
    }

    public void InitializeWeights(double std)
    {
        HfInit.Linear(dense, std);
        HfInit.LayerNorm(LayerNorm);
    }

    public Tensor Forward(Tensor hidden, Tensor residual)
    {
        using var scope = NewDisposeScope();
        return LayerNorm.forward(dropout.forward(dense.call(hidden)).add(residual)).MoveToOuterDisposeScope();
    }
}
