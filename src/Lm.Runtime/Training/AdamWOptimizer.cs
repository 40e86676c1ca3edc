using System.Text.Json.Nodes;
using Lm.Runtime.Checkpoints;
using Lm.Runtime.Errors;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Lm.Runtime.Files;

namespace Lm.Runtime.Training;

/// <summary>
/// <c>torch.optim.AdamW</c> (HF's <c>optim="adamw_torch"</c>) with its parameters and state keyed by parameter
/// name, so that optimizer state saves to and loads from a safetensors file and survives dtype casts of the model.
/// The arithmetic follows torch 2.x's single-tensor implementation step for step (decoupled weight decay, then
/// <c>lerp</c> of the first moment, bias corrections in double precision).
/// <para>
/// With <c>keepFp32Master</c> the optimizer keeps an fp32 copy of each parameter: the model may then run in
/// bfloat16 (gradients are widened to fp32, the fp32 master is updated and copied back), which is how lm-tune
/// trains with <c>bf16</c> without an autocast. Where the CPU pass applies, the widening is not written out: the
/// gradient norm (<see cref="BFloat16GradientNorm"/>) and the update (<see cref="AdamWUpdate"/>) read the bf16
/// gradients in place, with the widened values' results to the bit.
/// </para>
/// </summary>
public sealed class AdamWOptimizer : IDisposable
{
    private readonly List<Slot> _slots = new();
    private readonly bool _keepFp32Master;

    /// <summary>
    /// An optimizer over <paramref name="groups"/>, each a list of named parameters with its weight decay.
    /// </summary>
    public AdamWOptimizer(IEnumerable<(IReadOnlyList<(string Name, Parameter Parameter)> Parameters, double WeightDecay)> groups,
        double learningRate, double beta1, double beta2, double epsilon, bool keepFp32Master = false)
    {
        LearningRate = learningRate;
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        _keepFp32Master = keepFp32Master;
        foreach (var (parameters, weightDecay) in groups)
        {
            foreach (var (name, parameter) in parameters)
                _slots.Add(new Slot(name, weightDecay, parameter, keepFp32Master ? CloneAsFp32(parameter) : parameter));
        }
    }

    /// <summary>The optimizer HF's Trainer builds from <paramref name="args"/>: <see cref="OptimizerGroups"/> + AdamW.</summary>
    public static AdamWOptimizer ForModel(nn.Module model, TrainingArguments args, bool keepFp32Master = false)
    {
        var (decay, noDecay) = OptimizerGroups.Split(model);
        return new AdamWOptimizer([(decay, args.WeightDecay), (noDecay, 0.0)], args.LearningRate,
            args.AdamBeta1, args.AdamBeta2, args.AdamEpsilon, keepFp32Master);
    }

    /// <summary>The learning rate of the next <see cref="Step"/> (the scheduler sets it).</summary>
    public double LearningRate { get; set; }

    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Epsilon { get; }

    /// <summary>Optimizer steps taken (torch's per-parameter <c>step</c>, equal for all parameters).</summary>
    public long StepCount { get; private set; }

    /// <summary>Names of the optimized parameters, decayed group first.</summary>
    public IEnumerable<string> ParameterNames => _slots.Select(s => s.Name);

    /// <summary>
    /// <c>torch.nn.utils.clip_grad_norm_</c> over all gradients (fp32 view): returns the total L2 norm before
    /// clipping and scales the gradients by <c>min(1, max_norm / (norm + 1e-6))</c>. The norm stays a tensor so
    /// that no device synchronisation is forced.
    /// </summary>
    public Tensor ClipGradNorm(double maxNorm)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (total, coefficient) = NormAndClipCoefficient(maxNorm);
        foreach (var grad in Gradients()) grad.mul_(coefficient);
        return total.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <see cref="ClipGradNorm"/> then <see cref="Step"/>, with the same arithmetic, but the gradients' scaling is
    /// done inside the update's pass over each parameter instead of as a pass of its own; the gradients themselves
    /// are left as they were. Returns the total L2 norm before clipping. Reads the clipping coefficient on the CPU
    /// (a device synchronisation) where a parameter takes the CPU pass.
    /// </summary>
    public Tensor ClipGradNormAndStep(double maxNorm)
    {
        using var scope = NewDisposeScope();
        Tensor total, coefficient;
        using (no_grad()) (total, coefficient) = NormAndClipCoefficient(maxNorm);
        Update(coefficient);
        return total.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The total L2 norm of the gradients and clip_grad_norm_'s <c>min(1, max_norm / (norm + 1e-6))</c>, both as
    /// tensors in the current dispose scope.
    /// </summary>
    private (Tensor Total, Tensor Coefficient) NormAndClipCoefficient(double maxNorm)
    {
        var norms = new List<Tensor>();
        foreach (var slot in _slots)
        {
            if (slot.Parameter.grad is not { } grad) continue;
            // A bf16 model's gradient: the norm of its float32 widening, read from the bf16 memory (no copy made).
            if (ReadsBf16Gradient(slot, grad) && BFloat16GradientNorm.Applies(grad))
                norms.Add(tensor(BFloat16GradientNorm.Norm(grad)));
            else
                // Tensor.norm(p) is linalg.vector_norm(p) bit for bit and takes p as a float, not as a Scalar object (see Step).
                norms.Add(GradientOf(slot)!.norm(2f));
        }
        if (norms.Count == 0) return (zeros(1).squeeze(), ones(1).squeeze());
        var stacked = stack(norms.ToArray());
        var total = stacked.norm(2f);
        // torch computes max_norm / (total + 1e-6) as reciprocal(total + 1e-6) * max_norm.
        using Scalar epsilon = 1e-6, maxNormScalar = maxNorm, one = 1.0;
        var coefficient = clamp(total.add(epsilon).reciprocal().mul(maxNormScalar), max: one);
        return (total, coefficient);
    }

    /// <summary>One AdamW update of every parameter that has a gradient, at <see cref="LearningRate"/>.</summary>
    public void Step() => Update(gradScale: null);

    /// <summary>
    /// The AdamW update, each gradient multiplied by <paramref name="gradScale"/> first when one is given
    /// (clip_grad_norm_'s coefficient, a 0-dimensional tensor of the gradients' dtype).
    /// </summary>
    private void Update(Tensor? gradScale)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        StepCount++;
        double step = StepCount;
        double biasCorrection1 = 1 - Math.Pow(Beta1, step);
        double biasCorrection2 = 1 - Math.Pow(Beta2, step);
        double stepSize = LearningRate / biasCorrection1;
        double biasCorrection2Sqrt = Math.Sqrt(biasCorrection2);
        using var firstMomentWeight = tensor((float)(1 - Beta1));
        // Scalars are held in variables to the end of the step. TorchSharp passes a Scalar's native handle to libtorch
        // without keeping the Scalar alive, so a temporary one (an implicit conversion from double) can be finalized by
        // a garbage collection on another thread during the call, and libtorch reads freed memory ("Unknown scalar
        // type"); seen in parallel tests.
        using Scalar beta2 = Beta2, oneMinusBeta2 = 1 - Beta2, biasCorrection2SqrtScalar = biasCorrection2Sqrt,
            epsilon = Epsilon, negativeStepSize = -stepSize;
        int threads = get_num_threads();
        float? gradScaleValue = null;
        foreach (var slot in _slots)
        {
            if (slot.Parameter.grad is not { } ownGrad) continue;
            slot.EnsureState();
            // A bf16 model's gradient is read by the CPU pass as it is; torch's ops get the float32 widening.
            Tensor grad = ReadsBf16Gradient(slot, ownGrad) && AdamWUpdate.Applies(slot.Master, ownGrad, slot.ExpAvg!, slot.ExpAvgSq!)
                ? ownGrad
                : GradientOf(slot)!;
            // Each parameter's temporaries (the square root, a scaled gradient) are freed before the next one's.
            using var slotScope = NewDisposeScope();
            var master = slot.Master;
            if (AdamWUpdate.Applies(master, grad, slot.ExpAvg!, slot.ExpAvgSq!))
            {
                // The same arithmetic as below, element by element, in two passes (see AdamWUpdate).
                gradScaleValue ??= gradScale is null ? 1f : gradScale.item<float>();
                var coefficients = new AdamWUpdate.Coefficients(gradScaleValue.Value,
                    (float)(1 - LearningRate * slot.WeightDecay), (float)(1 - Beta1), (float)Beta2, (float)(1 - Beta2),
                    (float)biasCorrection2Sqrt, (float)Epsilon, (float)-stepSize);
                AdamWUpdate.Run(master, grad, slot.ExpAvg!, slot.ExpAvgSq!, coefficients, threads);
            }
            else
            {
                // clip_grad_norm_ scales the gradient in place; a scaled copy leaves the gradient as it was.
                if (gradScale is not null) grad = grad.mul(gradScale);
                using Scalar decay = 1 - LearningRate * slot.WeightDecay;
                master.mul_(decay);
                slot.ExpAvg!.lerp_(grad, firstMomentWeight);
                slot.ExpAvgSq!.mul_(beta2).addcmul_(grad, grad, oneMinusBeta2);
                // torch: (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps); in place after the sqrt, same arithmetic.
                var denom = slot.ExpAvgSq.sqrt().div_(biasCorrection2SqrtScalar).add_(epsilon);
                master.addcdiv_(slot.ExpAvg, denom, negativeStepSize);
            }
            if (_keepFp32Master) slot.Parameter.copy_(master);
        }
        DisposeWidenedGrads();
    }

    /// <summary>Clears the gradients of the model's parameters (torch's <c>zero_grad(set_to_none=True)</c>).</summary>
    public void ZeroGrad()
    {
        foreach (var slot in _slots)
        {
            var grad = slot.Parameter.grad;
            if (grad is null) continue;
            slot.Parameter.grad = null;
            grad.Dispose();
        }
        DisposeWidenedGrads();
    }

    /// <summary>
    /// Points the optimizer at the parameters <paramref name="model"/> has now (after a dtype or device cast
    /// replaced them); the fp32 masters and moments are kept.
    /// </summary>
    public void Rebind(nn.Module model)
    {
        var current = model.named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
        foreach (var slot in _slots)
        {
            if (!current.TryGetValue(slot.Name, out var parameter))
                throw new InvalidOperationException($"the model has no parameter '{slot.Name}' any more");
            if (!_keepFp32Master) slot.Master = parameter;
            slot.Parameter = parameter;
        }
    }

    /// <summary>Copies the fp32 masters into the model's parameters (bf16 runs keep the masters as the true weights).</summary>
    public void CopyMastersTo(nn.Module model)
    {
        if (!_keepFp32Master) return;
        using var noGrad = no_grad();
        var current = model.named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
        foreach (var slot in _slots) current[slot.Name].copy_(slot.Master);
    }

    /// <summary>Sets the fp32 master of <paramref name="name"/> (no-op without masters or for unknown names).</summary>
    public void LoadMaster(string name, Tensor value)
    {
        if (!_keepFp32Master) return;
        using var noGrad = no_grad();
        foreach (var slot in _slots.Where(s => s.Name == name)) slot.Master.copy_(value);
    }

    /// <summary>
    /// The state as tensors to save (<c>NAME.exp_avg</c>, <c>NAME.exp_avg_sq</c>, and <c>NAME.master</c> with
    /// fp32 masters) and a JSON description (step, hyperparameters, groups). The tensors are the live state: save
    /// them before the next step.
    /// </summary>
    public (Dictionary<string, Tensor> Tensors, JsonObject Description) StateDict()
    {
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var slot in _slots)
        {
            if (slot.ExpAvg is not null)
            {
                tensors[slot.Name + ".exp_avg"] = slot.ExpAvg;
                tensors[slot.Name + ".exp_avg_sq"] = slot.ExpAvgSq!;
            }
            if (_keepFp32Master) tensors[slot.Name + ".master"] = slot.Master;
        }
        var groups = new JsonArray();
        foreach (var group in _slots.GroupBy(s => s.WeightDecay))
        {
            groups.Add(new JsonObject
            {
                ["weight_decay"] = group.Key,
                ["params"] = new JsonArray(group.Select(s => (JsonNode)s.Name).ToArray()),
            });
        }
        var description = new JsonObject
        {
            ["optimizer"] = "adamw_torch",
            ["step"] = StepCount,
            ["lr"] = LearningRate,
            ["betas"] = new JsonArray(Beta1, Beta2),
            ["eps"] = Epsilon,
            ["fp32_master_weights"] = _keepFp32Master,
            ["param_groups"] = groups,
        };
        return (tensors, description);
    }

    /// <summary>
    /// Restores the state <see cref="StateDict"/> produced; <paramref name="source"/> names the tensors' file in errors,
    /// <paramref name="descriptionSource"/> (default: the same) the description's.
    /// </summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> tensors, JsonObject description, string source, string? descriptionSource = null)
    {
        var fields = new JsonFields(description, descriptionSource ?? source, ErrorCodes.OptimizerStateInvalid);
        long step = fields.RequiredLong("step", min: 0);
        bool masters = fields.Bool("fp32_master_weights") ?? false;
        double? learningRate = fields.Double("lr", min: 0, finite: true);
        CheckNames(tensors, step > 0, _keepFp32Master && masters, source);
        using var noGrad = no_grad();
        foreach (var slot in _slots)
        {
            if (step > 0)
            {
                slot.EnsureState();
                CopyInto(slot.ExpAvg!, tensors, slot.Name + ".exp_avg", source);
                CopyInto(slot.ExpAvgSq!, tensors, slot.Name + ".exp_avg_sq", source);
            }
            if (_keepFp32Master && masters) CopyInto(slot.Master, tensors, slot.Name + ".master", source);
            if (_keepFp32Master && !masters) slot.Master.copy_(slot.Parameter);
        }
        StepCount = step;
        if (learningRate is double lr) LearningRate = lr;
    }

    /// <summary>
    /// LM0432 when optimizer.safetensors holds a tensor no parameter owns (a file of another model), before any
    /// state is copied; missing tensors and wrong shapes are found per parameter by <see cref="CopyInto"/>.
    /// </summary>
    private void CheckNames(IReadOnlyDictionary<string, Tensor> tensors, bool moments, bool masters, string source)
    {
        var expected = new HashSet<string>(StringComparer.Ordinal);
        foreach (var slot in _slots)
        {
            if (moments)
            {
                expected.Add(slot.Name + ".exp_avg");
                expected.Add(slot.Name + ".exp_avg_sq");
            }
            if (masters) expected.Add(slot.Name + ".master");
        }
        var unexpected = tensors.Keys.Where(k => !expected.Contains(k) && !k.EndsWith(".master", StringComparison.Ordinal)).Take(5).ToList();
        if (unexpected.Count > 0)
            throw new LmException(ErrorCodes.OptimizerStateInvalid,
                $"{source}: optimizer state for parameters this model does not have: {string.Join(", ", unexpected)}") { File = source };
    }

    public void Dispose()
    {
        DisposeWidenedGrads();
        foreach (var slot in _slots) slot.Dispose(_keepFp32Master);
        _slots.Clear();
    }

    private static void CopyInto(Tensor target, IReadOnlyDictionary<string, Tensor> tensors, string key, string source)
    {
        if (!tensors.TryGetValue(key, out var value))
            throw new LmException(ErrorCodes.OptimizerStateInvalid, $"{source}: optimizer state '{key}' is missing") { File = source };
        if (!value.shape.SequenceEqual(target.shape))
            throw new LmException(ErrorCodes.OptimizerStateInvalid,
                $"{source}: optimizer state '{key}' has shape [{string.Join(", ", value.shape)}], the model needs [{string.Join(", ", target.shape)}]")
            { File = source };
        target.copy_(value);
    }

    private readonly Dictionary<Slot, Tensor> _widenedGrads = new();

    private IEnumerable<Tensor> Gradients()
    {
        foreach (var slot in _slots)
        {
            var grad = GradientOf(slot);
            if (grad is not null) yield return grad;
        }
    }

    /// <summary>
    /// Whether the update may read <paramref name="grad"/>, a bf16 model's gradient, without widening it: with fp32
    /// masters, unless a widened copy already exists (<see cref="ClipGradNorm"/> scaled that copy in place).
    /// </summary>
    private bool ReadsBf16Gradient(Slot slot, Tensor grad) =>
        _keepFp32Master && grad.dtype == ScalarType.BFloat16 && !_widenedGrads.ContainsKey(slot);

    /// <summary>The gradient in the master's dtype: the parameter's own, or (bf16 model) a widened fp32 copy kept until the step.</summary>
    private Tensor? GradientOf(Slot slot)
    {
        var grad = slot.Parameter.grad;
        if (grad is null) return null;
        if (!_keepFp32Master) return grad;
        if (!_widenedGrads.TryGetValue(slot, out var widened))
        {
            widened = grad.to(slot.Master.dtype).DetachFromDisposeScope();
            _widenedGrads[slot] = widened;
        }
        return widened;
    }

    private void DisposeWidenedGrads()
    {
        foreach (var grad in _widenedGrads.Values) grad.Dispose();
        _widenedGrads.Clear();
    }

    private static Tensor CloneAsFp32(Parameter parameter)
    {
        using var noGrad = no_grad();
        return parameter.detach().to(float32).clone().DetachFromDisposeScope();
    }

    private sealed class Slot(string name, double weightDecay, Parameter parameter, Tensor master)
    {
        public string Name { get; } = name;
        public double WeightDecay { get; } = weightDecay;
        public Parameter Parameter { get; set; } = parameter;
        public Tensor Master { get; set; } = master;
        public Tensor? ExpAvg { get; private set; }
        public Tensor? ExpAvgSq { get; private set; }

        public void EnsureState()
        {
            if (ExpAvg is not null) return;
            ExpAvg = zeros_like(Master).DetachFromDisposeScope();
            ExpAvgSq = zeros_like(Master).DetachFromDisposeScope();
        }

        public void Dispose(bool ownsMaster)
        {
            ExpAvg?.Dispose();
            ExpAvgSq?.Dispose();
            if (ownsMaster) Master.Dispose();
        }
    }
}
