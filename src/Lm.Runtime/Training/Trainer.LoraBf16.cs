using Lm.Runtime.Models.Lora;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Training;

/// <summary>
/// <c>bf16</c> with a LoRA adapter, as HF's autocast around a PEFT model: the frozen base computes in bfloat16, while
/// the adapter (and <c>modules_to_save</c>) stay float32 parameters that AdamW updates directly (PEFT's
/// <c>lora.Linear.forward</c> casts the input to the adapter's dtype, <see cref="LoraLayer"/>). Casting the whole
/// model, as a full fine-tune's bf16 does, would round the adapters and, worse, the frozen base: it has no fp32 master
/// in the optimizer, so the run would hand back a base that is no longer the one it was given. The base's float32
/// values are therefore kept aside while it runs in bfloat16 (memory: the fp32 base plus its bf16 copy, what
/// autocast's per-op casts amount to), and written back after training, bit for bit. A base that is already bf16
/// (<c>--torch-dtype bfloat16</c>) keeps nothing aside.
/// </summary>
public sealed partial class Trainer
{
    private Dictionary<string, Tensor>? _frozenFp32Base;

    /// <summary>Casts the frozen base to bfloat16 and leaves every trainable parameter float32 with its exact value.</summary>
    private void CastFrozenBaseToBf16(LoraModel adapter)
    {
        // A run stopped early (cancelled, failed) left the base in bf16: start again from its kept float32 values.
        RestoreFrozenFp32Base();
        var trainable = adapter.TrainableNamedParameters().Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        var trainableValues = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        _frozenFp32Base = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        using (no_grad())
        {
            foreach (var (name, parameter) in _model.named_parameters())
            {
                if (parameter.dtype != ScalarType.Float32) continue;
                (trainable.Contains(name) ? trainableValues : _frozenFp32Base)[name] = parameter.detach().clone();
            }
        }
        // A base loaded in bf16 (--torch-dtype bfloat16) has nothing to keep, and must stay bf16 after the run.
        if (_frozenFp32Base.Count == 0) _frozenFp32Base = null;
        _model.to(ScalarType.BFloat16);
        // Back to float32: every module all of whose parameters train (lora_A, lora_B, a module to save).
        foreach (var (_, module) in _model.named_modules())
        {
            var parameters = module.named_parameters().ToList();
            if (parameters.Count > 0 && module.named_parameters().All(p => p.parameter.requires_grad))
                module.to(ScalarType.Float32);
        }
        using (no_grad())
        {
            foreach (var (name, parameter) in _model.named_parameters())
            {
                if (!trainableValues.TryGetValue(name, out var value)) continue;
                if (parameter.dtype != ScalarType.Float32)
                    throw new InvalidOperationException($"trainable parameter '{name}' shares a module with frozen weights and cannot stay float32");
                parameter.copy_(value);
            }
        }
        foreach (var value in trainableValues.Values) value.Dispose();
        _optimizer!.Rebind(_model);
    }

    /// <summary>Puts the frozen base's float32 values back after a bf16 LoRA run.</summary>
    private void RestoreFrozenFp32Base()
    {
        if (_frozenFp32Base is null) return;
        _model.to(ScalarType.Float32);
        using (no_grad())
        {
            foreach (var (name, parameter) in _model.named_parameters())
                if (_frozenFp32Base.TryGetValue(name, out var value)) parameter.copy_(value);
        }
        foreach (var value in _frozenFp32Base.Values) value.Dispose();
        _frozenFp32Base = null;
        _optimizer!.Rebind(_model);
    }
}
