using System.Globalization;
using System.Text.Json.Nodes;
using Lm.Runtime.Errors;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Models;

/// <summary>
/// <c>torch.utils.checkpoint.checkpoint(layer, *inputs, preserve_rng_state=True)</c>, which HF's
/// <c>gradient_checkpointing_enable()</c> wraps around every decoder/encoder layer: the layer runs without autograd
/// in the forward pass, so only its inputs are kept, and runs again with autograd in the backward pass. The CPU
/// random state is saved before the first run and restored for the second, so dropout draws the same masks and the
/// gradients are those of the plain layer.
/// </summary>
/// <remarks>
/// Generic over the layer: the layer's trainable parameters (those with <c>requires_grad</c>, e.g. only LoRA adapters
/// when the base is frozen) are inputs of the recorded node, so they receive gradients even when the hidden state
/// does not require one (a frozen embedding), which HF needs <c>enable_input_require_grads</c> for.
/// </remarks>
public static class GradientCheckpoint
{
    /// <summary>
    /// Runs <paramref name="forward"/> on <paramref name="inputs"/> (the layer's tensors: hidden state, masks, rotary
    /// tables; null where absent) as a checkpoint. <paramref name="forward"/> must read its tensors from its argument,
    /// never from a capture: the recomputation happens after the caller's dispose scope has ended.
    /// </summary>
    public static Tensor Run(nn.Module layer, Func<Tensor?[], Tensor> forward, params Tensor?[] inputs)
    {
        ReturnedGradients.Release();
        var parameters = layer.parameters().Where(p => p.requires_grad).ToArray();
        var vars = new object?[2 + inputs.Length + parameters.Length];
        vars[0] = forward;
        vars[1] = inputs.Length;
        for (int i = 0; i < inputs.Length; i++) vars[2 + i] = inputs[i];
        for (int i = 0; i < parameters.Length; i++) vars[2 + inputs.Length + i] = parameters[i];
        return CheckpointFunction.apply(vars!);
    }

    /// <summary>
    /// Throws LM0440 when <paramref name="model"/> would be checkpointed on a device other than the CPU with dropout
    /// above 0: TorchSharp exposes the CPU generator's state only, so the recomputation could not repeat the masks
    /// there. Dropout is read from the config's HF keys (<c>*dropout*</c>, <c>*pdrop</c>), whatever the architecture.
    /// </summary>
    public static void EnsureReproducible(LanguageModel model, Device device)
    {
        if (device.type == DeviceType.CPU) return;
        var config = JsonNode.Parse(model.Config.ToJson())!.AsObject();
        foreach (var (key, value) in config)
        {
            if (!(key.Contains("dropout", StringComparison.Ordinal) || key.EndsWith("pdrop", StringComparison.Ordinal))) continue;
            if (value is JsonValue number && number.TryGetValue(out double p) && p > 0)
                throw new LmException(ErrorCodes.CheckpointingDropoutOnDevice,
                    $"gradient_checkpointing on {device} with {key} = {p.ToString(CultureInfo.InvariantCulture)}: the recomputation " +
                    "of each layer restores the CPU random state only, so dropout would draw other masks on this device and the " +
                    $"gradients would be wrong; set {key} to 0 in config.json or train without gradient_checkpointing.");
        }
    }

    /// <summary>Checkpoints recorded since the process started (a test's evidence that a model used them).</summary>
    public static long RecomputeCount => Interlocked.Read(ref _recomputeCount);

    private static long _recomputeCount;

    private sealed class CheckpointFunction : autograd.SingleTensorFunction<CheckpointFunction>
    {
        public override string Name => "CheckpointFunction";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var forward = (Func<Tensor?[], Tensor>)vars[0];
            int count = (int)vars[1];
            var inputs = new Tensor?[count];
            for (int i = 0; i < count; i++) inputs[i] = vars[2 + i] as Tensor;
            var parameters = vars.Skip(2 + count).Cast<Tensor>().ToArray();
            // The state the first run starts from; the recomputation starts from it again.
            var rngState = random.get_rng_state();
            ctx.save_for_backward([.. inputs!, rngState]);
            ctx.save_data("forward", forward);
            ctx.save_data("requires_grad", inputs.Select(t => t?.requires_grad ?? false).ToArray());
            ctx.save_data("parameters", parameters);
            // apply() runs this without autograd: nothing inside the layer is recorded or kept.
            return forward(inputs);
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            using var scope = NewDisposeScope();
            Interlocked.Increment(ref _recomputeCount);
            ReturnedGradients.Release();
            var forward = (Func<Tensor?[], Tensor>)ctx.get_data("forward");
            var requiresGrad = (bool[])ctx.get_data("requires_grad");
            var parameters = (Tensor[])ctx.get_data("parameters");
            var saved = ctx.get_saved_variables();
            int count = requiresGrad.Length;
            var inputs = new Tensor?[count];
            for (int i = 0; i < count; i++)
                inputs[i] = saved[i]?.detach().requires_grad_(requiresGrad[i]);

            // Recompute from the forward's random state, then put back the state the backward pass had.
            var current = random.get_rng_state();
            random.set_rng_state(saved[count]);
            Tensor output;
            try
            {
                using (enable_grad()) output = forward(inputs);
            }
            finally
            {
                random.set_rng_state(current);
            }

            var wrt = new List<Tensor>();
            for (int i = 0; i < count; i++) if (requiresGrad[i]) wrt.Add(inputs[i]!);
            wrt.AddRange(parameters);
            var grads = wrt.Count == 0 || !output.requires_grad
                ? []
                : autograd.grad([output], wrt, [gradOutput], retain_graph: false, create_graph: false, allow_unused: true);

            // One gradient per argument of apply(): none for the delegate and the count, one per input tensor, one per parameter.
            var result = new List<Tensor> { null!, null! };
            int next = 0;
            for (int i = 0; i < count; i++) result.Add(requiresGrad[i] && grads.Count > 0 ? ReturnedGradients.Hand(grads[next++]) : null!);
            for (int i = 0; i < parameters.Length; i++) result.Add(grads.Count > 0 ? ReturnedGradients.Hand(grads[next++]) : null!);
            gradOutput.Dispose();
            return result;
        }
    }
}
