using Lm.Runtime.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Lm.Runtime.Models;

// GPT-2 as Hugging Face transformers computes it (modeling_gpt2.py, 4.46): pre-LayerNorm blocks, Conv1D projections
// with (in, out) weights, gelu_new, causal self-attention, a final LayerNorm, and logits from the token embedding.
// Field names are HF's attribute names, so RegisterComponents() yields HF's state_dict names.
// Linear projections run through call(), not forward(), so a LoRA layer (Models/Lora/LoraLayer.cs) hooked on them applies.
#pragma warning disable IDE1006 // snake_case fields are the checkpoint format

/// <summary>
/// HF's <c>GPT2LMHeadModel</c>: <c>transformer.*</c> parameters and a language-model head that is the token
/// embedding <c>transformer.wte.weight</c> itself (HF's <c>lm_head.weight</c> is an alias, never a second parameter).
/// The causal LM loss shifts the labels inside, as HF does.
/// </summary>
public sealed class Gpt2LMHeadModel : LanguageModel
{
    private static readonly IReadOnlyDictionary<string, string> Tied =
        new Dictionary<string, string> { ["lm_head.weight"] = "transformer.wte.weight" };

    private readonly Gpt2Model transformer;

    /// <summary>Builds the model; with <paramref name="initialize"/> it gets HF's initialisation (seed the torch RNG first).</summary>
    public Gpt2LMHeadModel(Gpt2Config config, bool initialize = true)
        : base(nameof(Gpt2LMHeadModel), config)
    {
        transformer = new Gpt2Model(config);
        RegisterComponents();
        if (!initialize) return;
        // HF initialises GPT2Model in its own constructor, then builds lm_head (an nn.Linear) and initialises it
        // before tying it to wte; those draws are replayed so a seed gives HF's weights.
        transformer.InitializeWeights();
        HfInit.DiscardedLinearConstruction(config.NEmbd, config.VocabSize, bias: false);
        HfInit.DiscardedLinearInitialization(config.NEmbd, config.VocabSize, config.InitializerRange);
    }

    /// <summary>The GPT-2 configuration.</summary>
    public Gpt2Config Gpt2Config => (Gpt2Config)Config;

    public override TrainingObjective Objective => TrainingObjective.CausalLm;

    public override string BaseModelPrefix => "transformer";

    public override IReadOnlyDictionary<string, string> TiedWeights => Tied;

    public override LanguageModelOutput Forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? labels = null) =>
        Forward(inputIds, attentionMask, labels, positionIds: null, cache: null);

    public override bool SupportsKeyValueCache => true;

    public override LanguageModelOutput Forward(Tensor inputIds, Tensor? attentionMask, KeyValueCache cache) =>
        Forward(inputIds, attentionMask, labels: null, positionIds: null, cache);

    public override LanguageModelOutput Forward(Tensor inputIds, Tensor? attentionMask, Tensor? positionIds, KeyValueCache? cache) =>
        Forward(inputIds, attentionMask, labels: null, positionIds, cache);

    protected override void SetGradientCheckpointing(bool enabled) => transformer.gradient_checkpointing = enabled;

    public override LinearHeadInput ForwardToHead(Tensor inputIds, Tensor? attentionMask = null)
    {
        CheckSequenceLength(inputIds);
        return new LinearHeadInput(transformer.Forward(inputIds, attentionMask, positionIds: null, cache: null), transformer.wte.weight!, null);
    }

    private LanguageModelOutput Forward(Tensor inputIds, Tensor? attentionMask, Tensor? labels, Tensor? positionIds, KeyValueCache? cache)
    {
        CheckSequenceLength(inputIds);
        using var scope = NewDisposeScope();
        var hidden = transformer.Forward(inputIds, attentionMask, positionIds, cache);
        var logits = new LinearHeadInput(hidden, transformer.wte.weight!, null).Logits();
        var loss = labels is null ? null : CausalLmLoss(logits, labels);
        return new LanguageModelOutput(loss?.MoveToOuterDisposeScope(), logits.MoveToOuterDisposeScope());
    }
}

/// <summary>HF's <c>GPT2Model</c>: token and position embeddings, the blocks, and the final LayerNorm.</summary>
internal sealed class Gpt2Model : nn.Module
{
    private readonly Gpt2Config config;
    internal readonly Embedding wte;
    private readonly Embedding wpe;
    private readonly TorchDropout drop;
    private readonly ModuleList<Gpt2Block> h;
    private readonly LayerNorm ln_f;

    /// <summary>HF's <c>GPT2Model.gradient_checkpointing</c>: checkpoint each block while training.</summary>
    internal bool gradient_checkpointing;

    public Gpt2Model(Gpt2Config config)
        : base("GPT2Model")
    {
        this.config = config;
        wte = nn.Embedding(config.VocabSize, config.NEmbd);
        wpe = nn.Embedding(config.NPositions, config.NEmbd);
        drop = new TorchDropout(config.EmbdPdrop);
        h = nn.ModuleList(Enumerable.Range(0, config.NLayer).Select(i => new Gpt2Block(config, i)).ToArray());
        ln_f = nn.LayerNorm(config.NEmbd, config.LayerNormEpsilon);
        RegisterComponents();
    }

    /// <summary>HF's <c>_init_weights</c> applied module by module in HF's order (children before parents).</summary>
    public void InitializeWeights()
    {
        using var noGrad = no_grad();
        double std = config.InitializerRange;
        HfInit.Embedding(wte, std, paddingIdx: null);
        HfInit.Embedding(wpe, std, paddingIdx: null);
        foreach (var block in h) block.InitializeWeights(std, std / Math.Sqrt(2.0 * config.NLayer));
        HfInit.LayerNorm(ln_f);
    }

    /// <summary>
    /// Runs the blocks on <paramref name="inputIds"/>, which follow the <paramref name="cache"/>d tokens when a cache is
    /// given (positions continue from <see cref="KeyValueCache.Length"/> unless <paramref name="positionIds"/> says
    /// otherwise, as for left-padded rows; the mask then covers cached and new tokens).
    /// </summary>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask, Tensor? positionIds, KeyValueCache? cache)
    {
        using var scope = NewDisposeScope();
        long length = inputIds.shape[1], past = cache?.Length ?? 0;
        ScalarType dtype = wte.weight!.dtype;
        var positions = positionIds ?? arange(past, past + length, dtype: ScalarType.Int64, device: inputIds.device).unsqueeze(0);
        var hidden = drop.forward(wte.forward(inputIds).add(wpe.forward(positions)));

        // As HF: no mask (or an all-ones mask) lets SDPA use its causal flag; padding gives an additive 4-D mask.
        // SDPA's flag aligns the causal triangle top-left, which is right without a cache and for one new token
        // after it (it sees every key); several new tokens after cached ones need the offset triangle spelled out.
        Tensor? mask = null;
        bool masksNothing = AttentionMasks.MasksNothing(attentionMask);
        if (!masksNothing || (past > 0 && length > 1 && Gpt2Block.UsesSdpa(config)))
        {
            var keys = attentionMask ?? ones(inputIds.shape[0], past + length, dtype: ScalarType.Int64, device: inputIds.device);
            mask = Gpt2Block.UsesSdpa(config)
                ? CausalPaddingMask(keys, length, past, dtype)
                : AttentionMasks.PaddingMask(keys, dtype);
        }
        bool checkpoint = gradient_checkpointing && training && cache is null;
        for (int i = 0; i < h.Count; i++)
        {
            var block = h[i];
            hidden = checkpoint
                ? GradientCheckpoint.Run(block, x => block.Forward(x[0]!, x[1], cache: null), hidden, mask)
                : block.Forward(hidden, mask, cache?.Layer(i));
        }
        cache?.Advance(length);
        return ln_f.forward(hidden).MoveToOuterDisposeScope();
    }

    /// <summary>HF's 4-D SDPA mask: the dtype's minimum where a key is in the future or is padding, 0 elsewhere.</summary>
    private static Tensor CausalPaddingMask(Tensor attentionMask, long length, long past, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var causal = ones(length, past + length, dtype: ScalarType.Bool, device: attentionMask.device).tril(past);
        var keys = attentionMask.to(ScalarType.Bool).unsqueeze(1).unsqueeze(1);
        var allowed = causal.logical_and(keys);
        var mask = zeros(allowed.shape, dtype: dtype, device: attentionMask.device)
            .masked_fill(allowed.logical_not(), ScalarCache.Of(finfo(dtype).min));
        return mask.MoveToOuterDisposeScope();
    }
}

/// <summary>HF's <c>GPT2Block</c>: x + attn(ln_1(x)), then x + mlp(ln_2(x)).</summary>
internal sealed class Gpt2Block : nn.Module
{
    private readonly LayerNorm ln_1;
    private readonly Gpt2Attention attn;
    private readonly LayerNorm ln_2;
    private readonly Gpt2Mlp mlp;

    public Gpt2Block(Gpt2Config config, int layerIndex)
        : base("GPT2Block")
    {
        ln_1 = nn.LayerNorm(config.NEmbd, config.LayerNormEpsilon);
        attn = new Gpt2Attention(config, layerIndex);
        ln_2 = nn.LayerNorm(config.NEmbd, config.LayerNormEpsilon);
        mlp = new Gpt2Mlp(config);
        RegisterComponents();
    }

    /// <summary>SDPA is HF's attention exactly when the scores are scaled by 1/√d only.</summary>
    public static bool UsesSdpa(Gpt2Config config) =>
        config.ScaleAttnWeights && !config.ScaleAttnByInverseLayerIdx && !config.ReorderAndUpcastAttn;

    public void InitializeWeights(double std, double residualStd)
    {
        HfInit.LayerNorm(ln_1);
        attn.InitializeWeights(std, residualStd);
        HfInit.LayerNorm(ln_2);
        mlp.InitializeWeights(std, residualStd);
    }

    public Tensor Forward(Tensor hidden, Tensor? mask, LayerKeyValues? cache)
    {
        using var scope = NewDisposeScope();
        var afterAttention = attn.Forward(ln_1.forward(hidden), mask, cache).add(hidden);
        var output = afterAttention.add(mlp.forward(ln_2.forward(afterAttention)));
        return output.MoveToOuterDisposeScope();
    }
}

/// <summary>HF's <c>GPT2Attention</c> (self-attention only): c_attn makes q, k, v; c_proj mixes the heads.</summary>
internal sealed class Gpt2Attention : nn.Module
{
    private readonly Gpt2Config config;
    private readonly int layerIndex;
    private readonly Conv1D c_attn;
    private readonly Conv1D c_proj;
    private readonly TorchDropout attn_dropout;
    private readonly TorchDropout resid_dropout;

    public Gpt2Attention(Gpt2Config config, int layerIndex)
        : base("GPT2Attention")
    {
        this.config = config;
        this.layerIndex = layerIndex;
        c_attn = new Conv1D(3 * config.NEmbd, config.NEmbd);
        c_proj = new Conv1D(config.NEmbd, config.NEmbd);
        attn_dropout = new TorchDropout(config.AttnPdrop);
        resid_dropout = new TorchDropout(config.ResidPdrop);
        RegisterComponents();
    }

    public void InitializeWeights(double std, double residualStd)
    {
        c_attn.InitializeWeights(std);
        c_proj.InitializeWeights(std);
        // HF then re-draws every parameter named c_proj.weight with the GPT-2 paper's residual scaling.
        c_proj.weight.normal_(0, residualStd);
    }

    public Tensor Forward(Tensor hidden, Tensor? mask, LayerKeyValues? cache)
    {
        using var scope = NewDisposeScope();
        long batch = hidden.shape[0], length = hidden.shape[1];
        int heads = config.NHead, headSize = config.NEmbd / config.NHead;
        var qkv = c_attn.call(hidden).split(config.NEmbd, dim: 2);
        var query = SplitHeads(qkv[0], heads, headSize);
        var key = SplitHeads(qkv[1], heads, headSize);
        var value = SplitHeads(qkv[2], heads, headSize);
        if (cache is not null) (key, value) = cache.Append(key, value);

        Tensor context;
        if (!Gpt2Block.UsesSdpa(config))
            context = EagerAttention(query, key, value, mask);
        else if (mask is null && cache is null && CausalMathAttention.Applies(query, key, value, config.AttnPdrop, training))
            // What SDPA computes here, to the bit, with its dropout drawn by TorchDropout instead of serially.
            context = CausalMathAttention.Forward(query, key, value, config.AttnPdrop);
        else
            context = nn.functional.scaled_dot_product_attention(query, key, value, mask,
                p: training ? config.AttnPdrop : 0.0, is_casual: mask is null && length > 1);

        var merged = context.transpose(1, 2).contiguous().view(batch, length, config.NEmbd);
        return resid_dropout.forward(c_proj.call(merged)).MoveToOuterDisposeScope();
    }

    private static Tensor SplitHeads(Tensor x, int heads, int headSize) =>
        x.view(x.shape[0], x.shape[1], heads, headSize).permute(0, 2, 1, 3);

    /// <summary>HF's eager <c>_attn</c> / <c>_upcast_and_reordered_attn</c>, for configs SDPA cannot express.</summary>
    private Tensor EagerAttention(Tensor query, Tensor key, Tensor value, Tensor? paddingMask)
    {
        long length = query.shape[2], keyLength = key.shape[2];
        double headSize = value.shape[^1];
        Tensor scores;
        if (config.ReorderAndUpcastAttn)
        {
            double scale = 1.0;
            if (config.ScaleAttnWeights) scale /= Math.Sqrt(headSize);
            if (config.ScaleAttnByInverseLayerIdx) scale /= layerIndex + 1;
            long batchHeads = query.shape[0] * query.shape[1];
            var q = query.reshape(batchHeads, length, (long)headSize).to(ScalarType.Float32);
            var k = key.transpose(-1, -2).reshape(batchHeads, (long)headSize, keyLength).to(ScalarType.Float32);
            // HF uses baddbmm(beta=0, alpha=scale); BLAS applies alpha to the finished product, as this does.
            scores = q.bmm(k).mul(ScalarCache.Of(scale)).reshape(query.shape[0], query.shape[1], length, keyLength);
        }
        else
        {
            scores = query.matmul(key.transpose(-1, -2));
            if (config.ScaleAttnWeights)
                scores = scores.div(full([], ScalarCache.Of(Math.Sqrt(headSize)), dtype: scores.dtype, device: scores.device));
            if (config.ScaleAttnByInverseLayerIdx) scores = scores.div(ScalarCache.Of((double)(layerIndex + 1)));
        }
        var causal = ones(length, keyLength, dtype: ScalarType.Bool, device: query.device).tril(keyLength - length);
        var minimum = full([], ScalarCache.Of(finfo(scores.dtype).min), dtype: scores.dtype, device: scores.device);
        scores = where(causal, scores, minimum);
        if (paddingMask is not null) scores = scores.add(paddingMask);
        var weights = attn_dropout.forward(scores.softmax(-1).to(value.dtype));
        return weights.matmul(value);
    }
}

/// <summary>HF's <c>GPT2MLP</c>: c_fc, activation, c_proj, dropout.</summary>
internal sealed class Gpt2Mlp : nn.Module<Tensor, Tensor>
{
    private readonly string activation;
    private readonly Conv1D c_fc;
    private readonly Conv1D c_proj;
    private readonly TorchDropout dropout;

    public Gpt2Mlp(Gpt2Config config)
        : base("GPT2MLP")
    {
        activation = config.ActivationFunction;
        c_fc = new Conv1D(config.InnerSize, config.NEmbd);
        c_proj = new Conv1D(config.NEmbd, config.InnerSize);
        dropout = new TorchDropout(config.ResidPdrop);
        RegisterComponents();
    }

    public void InitializeWeights(double std, double residualStd)
    {
        c_fc.InitializeWeights(std);
        c_proj.InitializeWeights(std);
        c_proj.weight.normal_(0, residualStd);
    }

    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        var inner = HfActivations.Apply(activation, c_fc.call(hidden));
        return dropout.forward(c_proj.call(inner)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// HF's <c>Conv1D</c>: a linear layer whose weight is stored transposed, <c>(in, out)</c>, as in the original
/// GPT-2 checkpoints; <c>y = bias + x · weight</c>. Built with weight ~ normal(0, 0.02) and a zero bias, as HF builds it.
/// </summary>
internal sealed class Conv1D : nn.Module<Tensor, Tensor>
{
    internal readonly Parameter weight;
    private readonly Parameter bias;
    private readonly long outFeatures;

    public Conv1D(long outFeatures, long inFeatures)
        : base("Conv1D")
    {
        this.outFeatures = outFeatures;
        weight = nn.Parameter(empty(inFeatures, outFeatures));
        bias = nn.Parameter(zeros(outFeatures));
        using (no_grad()) weight.normal_(0, 0.02);
        RegisterComponents();
    }

    public void InitializeWeights(double std)
    {
        weight.normal_(0, std);
        bias.zero_();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long[] outputShape = [.. x.shape[..^1], outFeatures];
        var flat = x.view(-1, x.shape[^1]);
        return addmm(bias, flat, weight, 1f, 1f).view(outputShape).MoveToOuterDisposeScope();
    }
}
