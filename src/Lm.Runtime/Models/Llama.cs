using Lm.Runtime.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Lm.Runtime.Models;

// Llama as Hugging Face transformers computes it (modeling_llama.py; Qwen2 and Mistral in modeling_qwen2.py and
// modeling_mistral.py are the same decoder with other biases and sliding windows): pre-RMSNorm blocks, rotary
// positions, grouped-query attention with the softmax in float32, a SiLU-gated MLP, a final RMSNorm, and logits
// from lm_head or, when tie_word_embeddings is true, from the token embedding itself. Field names are HF's
// attribute names, so RegisterComponents() yields HF's state_dict names.
// Linear projections run through call(), not forward(), so a LoRA layer (Models/Lora/LoraLayer.cs) hooked on them applies.
#pragma warning disable IDE1006 // snake_case fields are the checkpoint format

/// <summary>
/// HF's <c>LlamaForCausalLM</c> (also <c>Qwen2ForCausalLM</c> and <c>MistralForCausalLM</c>): <c>model.*</c>
/// parameters and <c>lm_head.weight</c>, which is not a parameter of its own when the embeddings are tied
/// (then it is an alias of <c>model.embed_tokens.weight</c>). The causal LM loss shifts the labels inside, as HF does.
/// </summary>
public sealed class LlamaForCausalLM : LanguageModel
{
    private static readonly IReadOnlyDictionary<string, string> Tied =
        new Dictionary<string, string> { ["lm_head.weight"] = "model.embed_tokens.weight" };

    private static readonly IReadOnlyDictionary<string, string> Untied = new Dictionary<string, string>();

    private readonly LlamaModel model;
    private readonly Linear? lm_head;

    /// <summary>Builds the model; with <paramref name="initialize"/> it gets HF's initialisation (seed the torch RNG first).</summary>
    public LlamaForCausalLM(LlamaFamilyConfig config, bool initialize = true)
        : base(config.ArchitectureName, config)
    {
        model = new LlamaModel(config);
        // HF's LlamaModel initialises itself in its constructor (post_init), before the head is built.
        if (initialize) model.InitializeWeights();
        if (config.TiesWordEmbeddings)
        {
            if (initialize)
            {
                // HF builds lm_head as an nn.Linear and initialises it before tying it to embed_tokens; the draws are
                // replayed so a seed gives HF's weights.
                HfInit.DiscardedLinearConstruction(config.HiddenWidth, config.VocabSize, bias: false);
                HfInit.DiscardedLinearInitialization(config.HiddenWidth, config.VocabSize, config.InitializerRange);
            }
        }
        else
        {
            lm_head = nn.Linear(config.HiddenWidth, config.VocabSize, hasBias: false);
            if (initialize) HfInit.Linear(lm_head, config.InitializerRange);
        }
        RegisterComponents();
    }

    /// <summary>The Llama-family configuration.</summary>
    public LlamaFamilyConfig LlamaConfig => (LlamaFamilyConfig)Config;

    public override TrainingObjective Objective => TrainingObjective.CausalLm;

    public override string BaseModelPrefix => "model";

    public override IReadOnlyDictionary<string, string> TiedWeights => lm_head is null ? Tied : Untied;

    public override LanguageModelOutput Forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? labels = null) =>
        Forward(inputIds, attentionMask, labels, positionIds: null, cache: null);

    public override bool SupportsKeyValueCache => true;

    public override LanguageModelOutput Forward(Tensor inputIds, Tensor? attentionMask, KeyValueCache cache) =>
        Forward(inputIds, attentionMask, labels: null, positionIds: null, cache);

    public override LanguageModelOutput Forward(Tensor inputIds, Tensor? attentionMask, Tensor? positionIds, KeyValueCache? cache) =>
        Forward(inputIds, attentionMask, labels: null, positionIds, cache);

    protected override void SetGradientCheckpointing(bool enabled) => model.gradient_checkpointing = enabled;

    public override LinearHeadInput? ForwardToHead(Tensor inputIds, Tensor? attentionMask = null)
    {
        // A LoRA layer on lm_head (its lora_A / lora_B children, Lora/LoraLayer) adds B·A·scaling in the module's forward
        // hook, which the head's bare weight leaves out: no head input then, and the trainer calls the module instead.
        if (lm_head is not null && lm_head.named_children().Any(c => c.name == "lora_A")) return null;
        CheckSequenceLength(inputIds);
        return Head(model.Forward(inputIds, attentionMask, positionIds: null, cache: null));
    }

    /// <summary>HF's <c>lm_head</c> (no bias), or the token embedding when the embeddings are tied.</summary>
    private LinearHeadInput Head(Tensor hidden) => new(hidden, lm_head?.weight ?? model.embed_tokens.weight!, null);

    /// <summary>
    /// Runs the model with explicit <paramref name="positionIds"/> (<c>[batch, sequence]</c>; default: the positions after
    /// the cached tokens, 0.. without a cache) and an optional <paramref name="cache"/> of earlier keys and values, which
    /// this call extends. With a cache, <paramref name="attentionMask"/> covers the cached tokens and the new ones.
    /// </summary>
    public LanguageModelOutput Forward(Tensor inputIds, Tensor? attentionMask, Tensor? labels, Tensor? positionIds, KeyValueCache? cache)
    {
        CheckSequenceLength(inputIds);
        using var scope = NewDisposeScope();
        var hidden = model.Forward(inputIds, attentionMask, positionIds, cache);
        // An untied lm_head is called as a module, so a LoRA layer hooked on it takes part.
        var logits = lm_head is null ? Head(hidden).Logits() : lm_head.call(hidden);
        var loss = labels is null ? null : CausalLmLoss(logits, labels);
        return new LanguageModelOutput(loss?.MoveToOuterDisposeScope(), logits.MoveToOuterDisposeScope());
    }
}

/// <summary>HF's <c>LlamaModel</c>: the token embedding, the decoder layers, the final RMSNorm, and the rotary embedding.</summary>
internal sealed class LlamaModel : nn.Module
{
    private readonly LlamaFamilyConfig config;
    internal readonly Embedding embed_tokens;
    private readonly ModuleList<LlamaDecoderLayer> layers;
    private readonly LlamaRMSNorm norm;
    private readonly LlamaRotaryEmbedding rotary_emb;

    /// <summary>HF's <c>LlamaModel.gradient_checkpointing</c>: checkpoint each decoder layer while training.</summary>
    internal bool gradient_checkpointing;

    public LlamaModel(LlamaFamilyConfig config)
        : base("LlamaModel")
    {
        this.config = config;
        // HF passes pad_token_id as padding_idx: that row starts at zero and never receives a gradient.
        embed_tokens = nn.Embedding(config.VocabSize, config.HiddenWidth, padding_idx: config.PadTokenId);
        layers = nn.ModuleList(Enumerable.Range(0, config.NumHiddenLayers).Select(_ => new LlamaDecoderLayer(config)).ToArray());
        norm = new LlamaRMSNorm(config.HiddenWidth, config.RmsNormEps);
        rotary_emb = new LlamaRotaryEmbedding(config);
        RegisterComponents();
    }

    /// <summary>HF's <c>LlamaPreTrainedModel._init_weights</c> in HF's module order (children before parents).</summary>
    public void InitializeWeights()
    {
        using var noGrad = no_grad();
        double std = config.InitializerRange;
        HfInit.Embedding(embed_tokens, std, config.PadTokenId);
        foreach (var layer in layers) layer.InitializeWeights(std);
        // RMSNorm weights keep their constructor value, 1.
    }

    public Tensor Forward(Tensor inputIds, Tensor? attentionMask, Tensor? positionIds, KeyValueCache? cache)
    {
        using var scope = NewDisposeScope();
        long batch = inputIds.shape[0], length = inputIds.shape[1], past = cache?.Length ?? 0;
        var hidden = embed_tokens.forward(inputIds);
        // LlamaModel.forward without position_ids: cache_position = past .. past + length - 1 for every row.
        positionIds ??= arange(past, past + length, dtype: ScalarType.Int64, device: inputIds.device).unsqueeze(0).expand(batch, length);
        var (cos, sin) = rotary_emb.Forward(positionIds, hidden.dtype);

        // One additive mask per distinct window (Qwen2 mixes full and sliding layers).
        var masks = new Dictionary<int, Tensor>();
        bool checkpoint = gradient_checkpointing && training && cache is null;
        for (int i = 0; i < layers.Count; i++)
        {
            int window = config.SlidingWindowFor(i) ?? 0;
            if (!masks.TryGetValue(window, out Tensor? mask))
                masks[window] = mask = LlamaMasks.CausalMask(attentionMask, batch, length, past, window, hidden.dtype, hidden.device);
            var layer = layers[i];
            hidden = checkpoint
                ? GradientCheckpoint.Run(layer, x => layer.Forward(x[0]!, x[1]!, x[2]!, x[3]!, cache: null), hidden, cos, sin, mask)
                : layer.Forward(hidden, cos, sin, mask, cache?.Layer(i));
        }
        cache?.Advance(length);
        return norm.forward(hidden).MoveToOuterDisposeScope();
    }
}

/// <summary>HF's causal mask (<c>_prepare_4d_causal_attention_mask_with_cache_position</c>, Mistral's sliding variant).</summary>
internal static class LlamaMasks
{
    /// <summary>
    /// <c>[batch, 1, length, past + length]</c>: 0 where query i (at cache position past + i) may see key j, the dtype's
    /// minimum elsewhere. A key is visible when j ≤ past + i, when it is not padding, and, with a sliding
    /// <paramref name="window"/> w &gt; 0, when past + i − w &lt; j.
    /// </summary>
    public static Tensor CausalMask(Tensor? attentionMask, long batch, long length, long past, int window, ScalarType dtype, Device device)
    {
        using var scope = NewDisposeScope();
        long keys = past + length;
        var queryPositions = arange(past, keys, dtype: ScalarType.Int64, device: device).unsqueeze(1);
        var keyPositions = arange(keys, dtype: ScalarType.Int64, device: device).unsqueeze(0);
        var allowed = keyPositions.le(queryPositions);
        if (window > 0) allowed = allowed.logical_and(keyPositions.gt(queryPositions.sub(ScalarCache.Of((long)window))));
        var allowed4 = allowed.unsqueeze(0).unsqueeze(0).expand(batch, 1, length, keys);
        if (attentionMask is not null)
            allowed4 = allowed4.logical_and(attentionMask.to(device).to(ScalarType.Bool).unsqueeze(1).unsqueeze(1));
        var mask = zeros([batch, 1, length, keys], dtype: dtype, device: device)
            .masked_fill(allowed4.logical_not(), ScalarCache.Of(finfo(dtype).min));
        return mask.MoveToOuterDisposeScope();
    }
}

/// <summary>HF's <c>LlamaDecoderLayer</c>: x + self_attn(input_layernorm(x)), then x + mlp(post_attention_layernorm(x)).</summary>
internal sealed class LlamaDecoderLayer : nn.Module
{
    private readonly LlamaAttention self_attn;
    private readonly LlamaMLP mlp;
    private readonly LlamaRMSNorm input_layernorm;
    private readonly LlamaRMSNorm post_attention_layernorm;

    public LlamaDecoderLayer(LlamaFamilyConfig config)
        : base("LlamaDecoderLayer")
    {
        self_attn = new LlamaAttention(config);
        mlp = new LlamaMLP(config);
        input_layernorm = new LlamaRMSNorm(config.HiddenWidth, config.RmsNormEps);
        post_attention_layernorm = new LlamaRMSNorm(config.HiddenWidth, config.RmsNormEps);
        RegisterComponents();
    }

    public void InitializeWeights(double std)
    {
        self_attn.InitializeWeights(std);
        mlp.InitializeWeights(std);
    }

    public Tensor Forward(Tensor hidden, Tensor cos, Tensor sin, Tensor mask, LayerKeyValues? cache)
    {
        using var scope = NewDisposeScope();
        var afterAttention = hidden.add(self_attn.Forward(input_layernorm.forward(hidden), cos, sin, mask, cache));
        var output = afterAttention.add(mlp.forward(post_attention_layernorm.forward(afterAttention)));
        return output.MoveToOuterDisposeScope();
    }
}

/// <summary>
/// HF's <c>LlamaAttention</c> with <c>eager_attention_forward</c>: rotary q and k, key/value heads repeated for
/// grouped-query attention (<c>repeat_kv</c>), scores scaled by head_dim^-0.5, the softmax in float32 and cast back.
/// </summary>
internal sealed class LlamaAttention : nn.Module
{
    private readonly int heads;
    private readonly int keyValueHeads;
    private readonly int headDim;
    private readonly double scaling;
    private readonly double attentionDropout;
    private readonly Linear q_proj;
    private readonly Linear k_proj;
    private readonly Linear v_proj;
    private readonly Linear o_proj;

    public LlamaAttention(LlamaFamilyConfig config)
        : base("LlamaAttention")
    {
        heads = config.NumAttentionHeads;
        keyValueHeads = config.KeyValueHeadCount;
        headDim = config.HeadDim;
        scaling = Math.Pow(headDim, -0.5);
        attentionDropout = config.AttentionDropout;
        q_proj = nn.Linear(config.HiddenWidth, (long)heads * headDim, hasBias: config.QkvBias);
        k_proj = nn.Linear(config.HiddenWidth, (long)keyValueHeads * headDim, hasBias: config.QkvBias);
        v_proj = nn.Linear(config.HiddenWidth, (long)keyValueHeads * headDim, hasBias: config.QkvBias);
        o_proj = nn.Linear((long)heads * headDim, config.HiddenWidth, hasBias: config.OutputBias);
        RegisterComponents();
    }

    public void InitializeWeights(double std)
    {
        HfInit.Linear(q_proj, std);
        HfInit.Linear(k_proj, std);
        HfInit.Linear(v_proj, std);
        HfInit.Linear(o_proj, std);
    }

    public Tensor Forward(Tensor hidden, Tensor cos, Tensor sin, Tensor mask, LayerKeyValues? cache)
    {
        using var scope = NewDisposeScope();
        long batch = hidden.shape[0], length = hidden.shape[1];
        var query = q_proj.call(hidden).view(batch, length, -1, headDim).transpose(1, 2);
        var key = k_proj.call(hidden).view(batch, length, -1, headDim).transpose(1, 2);
        var value = v_proj.call(hidden).view(batch, length, -1, headDim).transpose(1, 2);
        (query, key) = LlamaRotaryEmbedding.Apply(query, key, cos, sin);
        if (cache is not null) (key, value) = cache.Append(key, value);

        key = RepeatKv(key, heads / keyValueHeads);
        value = RepeatKv(value, heads / keyValueHeads);
        var scores = query.matmul(key.transpose(2, 3)).mul(ScalarCache.Of(scaling)).add(mask);
        var weights = scores.softmax(-1, ScalarType.Float32).to(query.dtype);
        weights = TorchDropout.Apply(weights, attentionDropout, training);
        var context = weights.matmul(value).transpose(1, 2).reshape(batch, length, -1);
        return o_proj.call(context).MoveToOuterDisposeScope();
    }

    /// <summary>HF's <c>repeat_kv</c>: each key/value head serves <paramref name="groups"/> consecutive query heads.</summary>
    internal static Tensor RepeatKv(Tensor x, int groups)
    {
        if (groups == 1) return x.alias();
        long batch = x.shape[0], kvHeads = x.shape[1], length = x.shape[2], dim = x.shape[3];
        return x.unsqueeze(2).expand(batch, kvHeads, groups, length, dim).reshape(batch, kvHeads * groups, length, dim);
    }
}

/// <summary>HF's <c>LlamaMLP</c>: down_proj(act(gate_proj(x)) × up_proj(x)).</summary>
internal sealed class LlamaMLP : nn.Module<Tensor, Tensor>
{
    private readonly string activation;
    private readonly Linear gate_proj;
    private readonly Linear up_proj;
    private readonly Linear down_proj;

    public LlamaMLP(LlamaFamilyConfig config)
        : base("LlamaMLP")
    {
        activation = config.HiddenAct;
        gate_proj = nn.Linear(config.HiddenWidth, config.IntermediateSize, hasBias: config.MlpBias);
        up_proj = nn.Linear(config.HiddenWidth, config.IntermediateSize, hasBias: config.MlpBias);
        down_proj = nn.Linear(config.IntermediateSize, config.HiddenWidth, hasBias: config.MlpBias);
        RegisterComponents();
    }

    public void InitializeWeights(double std)
    {
        HfInit.Linear(gate_proj, std);
        HfInit.Linear(up_proj, std);
        HfInit.Linear(down_proj, std);
    }

    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        var gated = HfActivations.Apply(activation, gate_proj.call(hidden)).mul(up_proj.call(hidden));
        return down_proj.call(gated).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// HF's <c>LlamaRMSNorm</c>: x / sqrt(mean(x²) + eps) computed in float32, cast back to the input dtype, then
/// multiplied by the weight (<c>weight * hidden.to(input_dtype)</c>).
/// </summary>
internal sealed class LlamaRMSNorm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly double eps;

    public LlamaRMSNorm(long hiddenSize, double eps)
        : base("LlamaRMSNorm")
    {
        weight = nn.Parameter(ones(hiddenSize));
        this.eps = eps;
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        var inputDtype = hidden.dtype;
        var x = hidden.to(ScalarType.Float32);
        var variance = x.pow(ScalarCache.Of(2.0)).mean([-1], keepdim: true);
        x = x.mul(variance.add(ScalarCache.Of(eps)).rsqrt());
        return weight.mul(x.to(inputDtype)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// HF's <c>LlamaRotaryEmbedding</c>: cos and sin of position × inv_freq in float32 (the frequencies duplicated,
/// <c>cat(freqs, freqs)</c>), cast to the hidden dtype; and <c>apply_rotary_pos_emb</c> with <c>rotate_half</c>,
/// which pairs the first half of a head with its second half (not interleaved).
/// </summary>
internal sealed class LlamaRotaryEmbedding : nn.Module
{
    private readonly double theta;
    private readonly int dim;
    private readonly RotaryScaling scaling;

    public LlamaRotaryEmbedding(LlamaFamilyConfig config)
        : base("LlamaRotaryEmbedding")
    {
        theta = config.RopeTheta;
        dim = config.HeadDim;
        scaling = RotaryScaling.Parse(config);
        // inv_freq is a non-persistent buffer in HF: recomputed here per call (head_dim / 2 numbers), never saved.
        RegisterComponents();
    }

    /// <summary>cos and sin, <c>[batch, sequence, head_dim]</c>, for <paramref name="positionIds"/> <c>[batch, sequence]</c>.</summary>
    public (Tensor Cos, Tensor Sin) Forward(Tensor positionIds, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        long longest = scaling.RopeType == "dynamic" ? positionIds.max().item<long>() + 1 : 0;
        var inverse = scaling.InverseFrequencies(theta, dim, longest).to(positionIds.device);
        long batch = positionIds.shape[0];
        var inverseExpanded = inverse.unsqueeze(0).unsqueeze(2).expand(batch, -1, 1);
        var positions = positionIds.unsqueeze(1).to(ScalarType.Float32);
        var freqs = inverseExpanded.matmul(positions).transpose(1, 2);
        var emb = cat([freqs, freqs], dim: -1);
        // attention_scaling is 1 for default, linear, dynamic and llama3.
        return (emb.cos().to(dtype).MoveToOuterDisposeScope(), emb.sin().to(dtype).MoveToOuterDisposeScope());
    }

    /// <summary>HF's <c>apply_rotary_pos_emb</c>: q·cos + rotate_half(q)·sin (and k), cos/sin broadcast over heads.</summary>
    public static (Tensor Query, Tensor Key) Apply(Tensor query, Tensor key, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        var c = cos.unsqueeze(1);
        var s = sin.unsqueeze(1);
        var q = query.mul(c).add(RotateHalf(query).mul(s));
        var k = key.mul(c).add(RotateHalf(key).mul(s));
        return (q.MoveToOuterDisposeScope(), k.MoveToOuterDisposeScope());
    }

    /// <summary>HF's <c>rotate_half</c>: (x1, x2) → (−x2, x1) over the two halves of the last dimension.</summary>
    public static Tensor RotateHalf(Tensor x)
    {
        using var scope = NewDisposeScope();
        long half = x.shape[^1] / 2;
        var x1 = x.narrow(-1, 0, half);
        var x2 = x.narrow(-1, half, half);
        return cat([x2.neg(), x1], dim: -1).MoveToOuterDisposeScope();
    }
}
