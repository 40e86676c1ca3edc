using Lm.Runtime.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Lm.Runtime.Models.Lora;

/// <summary>
/// PEFT's <c>lora.Linear</c> added to one linear layer (an <c>nn.Linear</c>, or GPT-2's <c>Conv1D</c>):
/// <c>y = base(x) + lora_B(lora_A(dropout(x))) · scaling</c>. <c>lora_A</c> and <c>lora_B</c> are registered as
/// sub-modules of the base layer, so the model's parameter names are PEFT's saved keys without
/// <c>base_model.model.</c> (<c>model.layers.0.self_attn.q_proj.lora_A.weight</c>), and the base layer keeps its own
/// names (<c>q_proj.weight</c>, where PEFT's live model says <c>q_proj.base_layer.weight</c>). The update runs as a
/// forward hook, so an architecture only calls its projections with <c>call</c> instead of <c>forward</c>.
/// </summary>
public sealed class LoraLayer
{
    private readonly Linear _loraA;
    private readonly Linear _loraB;
    private readonly TorchDropout? _dropout;
    private readonly double _scaling;

    internal LoraLayer(string name, nn.Module<Tensor, Tensor> baseLayer, long inFeatures, long outFeatures, LoraConfig config, Device device)
    {
        Name = name;
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        // PEFT's update_layer: nn.Linear(in, r) and nn.Linear(r, out) are built (each drawing its default init), then
        // reset_lora_parameters draws lora_A again, Kaiming-uniform with a = √5, and zeroes lora_B. The same draws in
        // the same order give PEFT's initial A for a seed.
        _loraA = nn.Linear(inFeatures, config.R, hasBias: false, device: device);
        _loraB = nn.Linear(config.R, outFeatures, hasBias: false, device: device);
        using (no_grad())
        {
            nn.init.kaiming_uniform_(_loraA.weight!, a: Math.Sqrt(5));
            nn.init.zeros_(_loraB.weight!);
        }
        // PEFT uses nn.Identity for a dropout of 0: no random draw in training either.
        _dropout = config.LoraDropout > 0 ? new TorchDropout(config.LoraDropout) : null;
        _scaling = config.Scaling;
        baseLayer.register_module("lora_A", _loraA);
        baseLayer.register_module("lora_B", _loraB);
        if (_dropout is not null) baseLayer.register_module("lora_dropout", _dropout);
        baseLayer.register_forward_hook(AddUpdate);
    }

    /// <summary>The base layer's full module name (<c>model.layers.0.self_attn.q_proj</c>).</summary>
    public string Name { get; }

    public long InFeatures { get; }

    public long OutFeatures { get; }

    /// <summary><c>lora_A.weight</c>, <c>[r, in]</c>.</summary>
    public Parameter A => _loraA.weight!;

    /// <summary><c>lora_B.weight</c>, <c>[out, r]</c>.</summary>
    public Parameter B => _loraB.weight!;

    /// <summary>
    /// PEFT's <c>Linear.forward</c>: the input is cast to the adapter's dtype (a bf16 base keeps float32 adapters),
    /// the update is added, and the sum is cast back to the base layer's output dtype.
    /// </summary>
    private Tensor AddUpdate(nn.Module<Tensor, Tensor> layer, Tensor input, Tensor result)
    {
        using var scope = NewDisposeScope();
        var x = input.dtype == A.dtype ? input : input.to(A.dtype);
        if (_dropout is not null) x = _dropout.forward(x);
        var update = _loraB.forward(_loraA.forward(x)).mul(ScalarCache.Of(_scaling));
        var sum = result.add(update);
        if (sum.dtype != result.dtype) sum = sum.to(result.dtype);
        return sum.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The weight update <c>B·A·scaling</c> in the base weight's layout: <c>[out, in]</c>, or <c>[in, out]</c> for a
    /// fan-in-fan-out (Conv1D) weight, as PEFT's <c>get_delta_weight</c> (computed in float32).
    /// </summary>
    public static Tensor DeltaWeight(Tensor a, Tensor b, double scaling, bool fanInFanOut)
    {
        using var scope = NewDisposeScope();
        var delta = b.to(ScalarType.Float32).matmul(a.to(ScalarType.Float32)).mul(ScalarCache.Of(scaling));
        return (fanInFanOut ? delta.t() : delta).MoveToOuterDisposeScope();
    }
}
