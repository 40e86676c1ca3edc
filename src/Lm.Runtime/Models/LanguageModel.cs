using Lm.Runtime.Errors;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Models;

/// <summary>What a model learns to predict: the next token (causal LM) or masked tokens (masked LM).</summary>
public enum TrainingObjective
{
    /// <summary>Next-token prediction (GPT-2); labels are shifted inside the model.</summary>
    CausalLm,

    /// <summary>Masked-token prediction (RoBERTa, BERT); labels are -100 except at masked positions.</summary>
    MaskedLm,
}

/// <summary>
/// One forward pass: the loss (when labels were given; mean cross entropy over labels that are not -100) and the
/// logits <c>[batch, sequence, vocab]</c>. Both belong to the caller's dispose scope.
/// </summary>
public sealed record LanguageModelOutput(Tensor? Loss, Tensor Logits);

/// <summary>
/// A language model's output projection and what it projects: <c>logits = Features · Weightᵀ + Bias</c>.
/// <paramref name="Features"/> <c>[batch, sequence, width]</c> belongs to the caller's dispose scope; the weight and
/// bias are the model's parameters (the tied embedding for GPT-2, BERT and RoBERTa), never to be disposed.
/// </summary>
public sealed record LinearHeadInput(Tensor Features, Tensor Weight, Tensor? Bias)
{
    /// <summary>The logits <c>[batch, sequence, vocab]</c>, as the model's own forward pass computes them.</summary>
    public Tensor Logits() => nn.functional.linear(Features, Weight, Bias);
}

/// <summary>
/// A Hugging Face-exact language model on TorchSharp. Parameter names are HF's state_dict names; the output
/// projection is the input embedding itself (one parameter), as in HF's tied heads.
/// </summary>
public abstract class LanguageModel : nn.Module
{
    /// <summary>The label value losses ignore, as HF's <c>CrossEntropyLoss</c> default.</summary>
    public const long IgnoreIndex = -100;

    protected LanguageModel(string name, ModelConfig config)
        : base(name)
    {
        config.Validate();
        // The base constructor runs before the architecture's, which allocates every parameter.
        EnsureParametersFit(config, AvailableMemoryBytes());
        Config = config;
    }

    /// <summary>
    /// Throws LM0120 when <paramref name="copies"/> float32 copies of the parameters of <paramref name="config"/> need
    /// more than <paramref name="availableBytes"/>: libtorch would otherwise fail deep inside an allocation, or the
    /// machine would start swapping, only after minutes of building. One copy is the model; training holds four
    /// (weights, gradients and AdamW's two moments).
    /// </summary>
    public static void EnsureParametersFit(ModelConfig config, long availableBytes, int copies = 1)
    {
        long parameters = config.ParameterCount();
        long perCopy = parameters > long.MaxValue / sizeof(float) ? long.MaxValue : parameters * sizeof(float);
        long bytes = perCopy > long.MaxValue / copies ? long.MaxValue : perCopy * copies;
        if (bytes > availableBytes)
            throw new LmException(ErrorCodes.ModelTooLarge,
                $"The {config.ModelType} model of this config has {parameters:N0} parameters, about {Gib(bytes)} in float32" +
                (copies == 1 ? "" : $" for the {copies} copies training holds (weights, gradients, AdamW's two moments)") +
                $", more than the {Gib(availableBytes)} of memory available to lm-tune; use a smaller config " +
                "(vocab_size, hidden size, layers, positions) or a machine with more memory.");
    }

    /// <summary>The memory the runtime may use: physical memory, or the container's limit when one is set.</summary>
    public static long AvailableMemoryBytes()
    {
        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        return available > 0 ? available : long.MaxValue;
    }

    private static string Gib(long bytes) => $"{bytes / (1024.0 * 1024 * 1024):0.##} GiB";

    /// <summary>The configuration the model was built from (written back as config.json).</summary>
    public ModelConfig Config { get; }

    /// <summary>The generation_config.json the model was loaded with (null when none); saving writes it back.</summary>
    public System.Text.Json.Nodes.JsonObject? GenerationConfig { get; set; }

    /// <summary>Causal LM (GPT-2) or masked LM (RoBERTa, BERT).</summary>
    public abstract TrainingObjective Objective { get; }

    /// <summary>Longest input sequence the position embeddings allow.</summary>
    public int MaxPositions => Config.MaxPositions;

    /// <summary>Rows of the input embedding and columns of the logits.</summary>
    public int VocabSize => Config.VocabSize;

    /// <summary>HF's class name (<c>GPT2LMHeadModel</c>, <c>RobertaForMaskedLM</c>, <c>BertForMaskedLM</c>).</summary>
    public string ArchitectureName => Config.ArchitectureName;

    /// <summary>HF's <c>base_model_prefix</c> (<c>transformer</c>, <c>roberta</c>, <c>bert</c>): checkpoints of the bare
    /// base model carry names without it.</summary>
    public abstract string BaseModelPrefix { get; }

    /// <summary>
    /// Names HF's state_dict lists that are the same tensor as one of this model's parameters (alias → owner),
    /// e.g. <c>lm_head.weight</c> → <c>transformer.wte.weight</c>. <c>save_pretrained</c> writes only the owner.
    /// </summary>
    public abstract IReadOnlyDictionary<string, string> TiedWeights { get; }

    /// <summary>
    /// Runs the model. <paramref name="inputIds"/> is <c>[batch, sequence]</c> int64; <paramref name="attentionMask"/>
    /// (1 = token, 0 = padding) is optional; <paramref name="labels"/>, when given, makes the model return HF's loss
    /// (causal: shifted inside; masked: positions labelled -100 ignored).
    /// </summary>
    public abstract LanguageModelOutput Forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? labels = null);

    /// <summary>
    /// The forward pass up to the last linear layer of the LM head (HF's <c>lm_head</c> / <c>decoder</c>), whose input
    /// and parameters it returns, so that a loss can project a few positions at a time instead of materialising the
    /// whole <c>[batch, sequence, vocab]</c> logits; null for a model without such a head.
    /// <see cref="Forward(Tensor, Tensor?, Tensor?)"/> equals <see cref="LinearHeadInput.Logits"/> of this.
    /// </summary>
    public virtual LinearHeadInput? ForwardToHead(Tensor inputIds, Tensor? attentionMask = null) => null;

    /// <summary>True for causal LMs that can run on a <see cref="KeyValueCache"/> (GPT-2 and the Llama family).</summary>
    public virtual bool SupportsKeyValueCache => false;

    /// <summary>
    /// Runs the model on <paramref name="inputIds"/>, the tokens that follow those in <paramref name="cache"/>, and appends
    /// their keys and values to it: positions continue from <see cref="KeyValueCache.Length"/> and the logits are those of
    /// the new tokens only. <paramref name="attentionMask"/>, when given, covers the cached and the new tokens.
    /// </summary>
    public virtual LanguageModelOutput Forward(Tensor inputIds, Tensor? attentionMask, KeyValueCache cache) =>
        throw new NotSupportedException($"{ArchitectureName} does not generate with a key/value cache.");

    /// <summary>
    /// Runs a causal LM for generation as HF's <c>prepare_inputs_for_generation</c> feeds it: <paramref name="positionIds"/>
    /// <c>[batch, new tokens]</c> (null: the positions after the cached tokens) give left-padded rows the positions their
    /// real tokens have alone, and <paramref name="cache"/> (null: no cache) holds the keys and values of earlier tokens.
    /// <paramref name="attentionMask"/> covers the cached and the new tokens.
    /// </summary>
    public virtual LanguageModelOutput Forward(Tensor inputIds, Tensor? attentionMask, Tensor? positionIds, KeyValueCache? cache) =>
        throw new NotSupportedException($"{ArchitectureName} does not generate with position ids or a key/value cache.");

    /// <summary>
    /// HF's <c>gradient_checkpointing_enable()</c> / <c>is_gradient_checkpointing</c>: while true and the model is in
    /// training mode, each decoder (encoder) layer runs as a <see cref="GradientCheckpoint"/>, keeping only its input
    /// and recomputing its activations in the backward pass. Loss and gradients are unchanged; a call with a key/value
    /// cache never checkpoints (HF turns <c>use_cache</c> off instead).
    /// </summary>
    public bool GradientCheckpointing
    {
        get => _gradientCheckpointing;
        set
        {
            _gradientCheckpointing = value;
            SetGradientCheckpointing(value);
        }
    }

    private bool _gradientCheckpointing;

    /// <summary>Passes <see cref="GradientCheckpointing"/> to the module that runs the layers (HF's base model).</summary>
    protected virtual void SetGradientCheckpointing(bool enabled) =>
        throw new NotSupportedException($"{ArchitectureName} does not support gradient checkpointing.");

    /// <summary>The trainable parameters by HF name, each once (tied weights under their owner's name).</summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, parameter) in named_parameters()) result[name] = parameter;
        return result;
    }

    /// <summary>Number of distinct parameter elements (tied weights counted once), as HF's <c>num_parameters()</c>.</summary>
    public long ParameterCount() => parameters().Sum(p => p.numel());

    /// <summary>Builds the model for <paramref name="config"/> with HF's random initialisation, seeded when asked.</summary>
    public static LanguageModel Create(ModelConfig config, long? seed = null)
    {
        if (seed is long s) torch.manual_seed(s);
        return Build(config, initialize: true);
    }

    /// <summary>Builds the architecture for a config; <paramref name="initialize"/> false skips HF's init (weights come next).</summary>
    internal static LanguageModel Build(ModelConfig config, bool initialize) => ModelArchitectures.For(config).Build(config, initialize);

    /// <summary>
    /// Throws LM0116 when a batch is longer than the position embeddings allow, and LM0221 when an id is outside the
    /// embedding (a tokenizer with more tokens than the model's <c>vocab_size</c>): libtorch would fail inside the
    /// lookup with an index error, or on a GPU with a device-side assert that poisons the process.
    /// </summary>
    protected void CheckSequenceLength(Tensor inputIds)
    {
        if (inputIds.dim() != 2)
            throw new ArgumentException($"input ids must be [batch, sequence], got [{string.Join(", ", inputIds.shape)}]", nameof(inputIds));
        if (inputIds.shape[1] > MaxPositions)
            throw new LmException(ErrorCodes.SequenceTooLong,
                $"A sequence of {inputIds.shape[1]} tokens is longer than the {MaxPositions} positions {ArchitectureName} supports; use a block size of at most {MaxPositions}.");
        if (inputIds.numel() == 0) return;
        using var max = inputIds.max();
        using var min = inputIds.min();
        long highest = max.item<long>(), lowest = min.item<long>();
        if (lowest < 0 || highest >= VocabSize)
            throw new LmException(ErrorCodes.TokenIdOutOfRange,
                $"Token id {(lowest < 0 ? lowest : highest)} is outside the model's vocabulary (vocab_size {VocabSize}); " +
                "the tokenizer does not belong to this model: use the tokenizer saved with it, or a config whose vocab_size covers the tokenizer.");
    }

    /// <summary>
    /// Throws LM0123 when <paramref name="logits"/> hold a NaN or an infinity. Finite weights never give them, so the
    /// weights are damaged (or were saved after training diverged); <paramref name="consequence"/> says what the
    /// caller cannot do with them (", so no next token can be chosen").
    /// </summary>
    public static void RequireFiniteLogits(Tensor logits, string consequence)
    {
        using var finite = logits.isfinite().all();
        if (!finite.item<bool>())
            throw new LmException(ErrorCodes.ModelOutputNotFinite,
                $"The model's logits hold NaN or infinite values{consequence}: its weights are not finite " +
                "(a damaged checkpoint, or one saved after training diverged).");
    }

    /// <summary>
    /// HF's causal LM loss: labels shifted left by one (the last position gets -100), mean cross entropy over labels
    /// that are not -100, computed in float32.
    /// </summary>
    public static Tensor CausalLmLoss(Tensor logits, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var padded = nn.functional.pad(labels.to(logits.device), [0, 1], value: IgnoreIndex);
        var shifted = padded[.., 1..].contiguous();
        var flatLogits = logits.to(ScalarType.Float32).view(-1, logits.shape[^1]);
        return nn.functional.cross_entropy(flatLogits, shifted.view(-1), ignore_index: IgnoreIndex).MoveToOuterDisposeScope();
    }

    /// <summary>HF's masked LM loss: mean cross entropy over positions whose label is not -100, in float32.</summary>
    public static Tensor MaskedLmLoss(Tensor logits, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var flatLogits = logits.to(ScalarType.Float32).view(-1, logits.shape[^1]);
        return nn.functional.cross_entropy(flatLogits, labels.to(logits.device).view(-1), ignore_index: IgnoreIndex)
            .MoveToOuterDisposeScope();
    }
}
