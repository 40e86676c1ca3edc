using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Lm.Runtime.Models;

// RoBERTa as Hugging Face transformers computes it (modeling_roberta.py, 4.46): BERT's encoder (Bert.cs) with
// positions counted from pad_token_id + 1 over real tokens, and a masked-LM head of dense, erf GELU, LayerNorm and
// a decoder tied to the word embeddings.
// Linear projections run through call(), not forward(), so a LoRA layer (Models/Lora/LoraLayer.cs) hooked on them applies.
#pragma warning disable IDE1006 // snake_case fields are the checkpoint format

/// <summary>
/// HF's <c>RobertaForMaskedLM</c>: <c>roberta.*</c> (no pooler) and <c>lm_head.*</c>. The decoder is the word
/// embedding itself and its bias is <c>lm_head.bias</c>; HF's <c>lm_head.decoder.weight</c> and
/// <c>lm_head.decoder.bias</c> are aliases, never extra parameters.
/// </summary>
public sealed class RobertaForMaskedLM : LanguageModel
{
    private static readonly IReadOnlyDictionary<string, string> Tied = new Dictionary<string, string>
    {
        ["lm_head.decoder.weight"] = "roberta.embeddings.word_embeddings.weight",
        ["lm_head.decoder.bias"] = "lm_head.bias",
    };

    private readonly EncoderModel roberta;
    private readonly RobertaLmHead lm_head;

    /// <summary>Builds the model; with <paramref name="initialize"/> it gets HF's initialisation (seed the torch RNG first).</summary>
    public RobertaForMaskedLM(RobertaConfig config, bool initialize = true)
        : base(nameof(RobertaForMaskedLM), config)
    {
        roberta = new EncoderModel(config, robertaPositions: true);
        if (initialize) roberta.InitializeWeights();
        lm_head = new RobertaLmHead(config);
        RegisterComponents();
        if (initialize) lm_head.InitializeWeights();
    }

    public override TrainingObjective Objective => TrainingObjective.MaskedLm;

    public override string BaseModelPrefix => "roberta";

    public override IReadOnlyDictionary<string, string> TiedWeights => Tied;

    protected override void SetGradientCheckpointing(bool enabled) => roberta.GradientCheckpointing = enabled;

    public override LinearHeadInput ForwardToHead(Tensor inputIds, Tensor? attentionMask = null)
    {
        CheckSequenceLength(inputIds);
        return lm_head.HeadInput(roberta.Forward(inputIds, attentionMask), roberta.embeddings.word_embeddings.weight!);
    }

    public override LanguageModelOutput Forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? labels = null)
    {
        using var scope = NewDisposeScope();
        var logits = ForwardToHead(inputIds, attentionMask).Logits();
        var loss = labels is null ? null : MaskedLmLoss(logits, labels);
        return new LanguageModelOutput(loss?.MoveToOuterDisposeScope(), logits.MoveToOuterDisposeScope());
    }
}

/// <summary>HF's <c>RobertaLMHead</c>: dense, erf GELU (whatever hidden_act says), layer_norm, tied decoder plus <c>bias</c>.</summary>
internal sealed class RobertaLmHead : nn.Module
{
    private readonly RobertaConfig config;
    private readonly Linear dense;
    private readonly LayerNorm layer_norm;
    private readonly Parameter bias;

    public RobertaLmHead(RobertaConfig config)
        : base("RobertaLMHead")
    {
        this.config = config;
        dense = nn.Linear(config.HiddenWidth, config.HiddenWidth);
        layer_norm = nn.LayerNorm(config.HiddenWidth, config.LayerNormEps);
        // HF builds decoder = nn.Linear(hidden, vocab) here (with a bias it then replaces by lm_head.bias).
        HfInit.DiscardedLinearConstruction(config.HiddenWidth, config.VocabSize, bias: true);
        bias = nn.Parameter(zeros(config.VocabSize));
        RegisterComponents();
    }

    public void InitializeWeights()
    {
        using var noGrad = no_grad();
        HfInit.Linear(dense, config.InitializerRange);
        HfInit.LayerNorm(layer_norm);
        HfInit.DiscardedLinearInitialization(config.HiddenWidth, config.VocabSize, config.InitializerRange);
        bias.zero_();
    }

    /// <summary>The decoder's input (dense, GELU, layer_norm of the hidden states), its tied weight and <c>bias</c>.</summary>
    public LinearHeadInput HeadInput(Tensor hidden, Tensor wordEmbeddings)
    {
        using var scope = NewDisposeScope();
        var x = layer_norm.forward(nn.functional.gelu(dense.call(hidden)));
        return new LinearHeadInput(x.MoveToOuterDisposeScope(), wordEmbeddings, bias);
    }
}
