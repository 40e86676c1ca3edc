using Lm.Runtime.Errors;
using Lm.Runtime.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Training;

public class AdamWOptimizerTests
{
    /// <summary>
    /// Two steps of torch.optim.AdamW (lr 0.01 then 0.005, weight decay 0.1 on the matrix only, betas 0.9/0.999,
    /// eps 1e-8) after clip_grad_norm_(1.0); expected values printed by torch 1.13.
    /// </summary>
    [Fact]
    public void Two_clipped_steps_match_torch_AdamW()
    {
        using var module = new TwoParameters();
        using var optimizer = new AdamWOptimizer(
            [([("w", module.W)], 0.1), ([("b", module.B)], 0.0)], 0.01, 0.9, 0.999, 1e-8);
        var grads = new[]
        {
            (new float[] { 1.5f, -2.0f, 0.25f, 3.0f, 0.5f, -1.0f }, new float[] { 0.75f, -0.5f, 2.5f }),
            (new float[] { -0.5f, 0.25f, 1.0f, 0.125f, -2.5f, 0.5f }, new float[] { 0.05f, 0.1f, -0.2f }),
        };
        var learningRates = new[] { 0.01, 0.005 };
        var norms = new List<float>();

        for (int i = 0; i < 2; i++)
        {
            optimizer.LearningRate = learningRates[i];
            module.W.grad = tensor(grads[i].Item1).view(2, 3);
            module.B.grad = tensor(grads[i].Item2);
            using var norm = optimizer.ClipGradNorm(1.0);
            norms.Add(norm.item<float>());
            optimizer.Step();
            optimizer.ZeroGrad();
        }

        AssertClose(new[] { 4.860555171966553f, 2.8072450160980225f }, norms.ToArray(), 1e-6f);
        AssertClose(new[] { 0.4882144629955292f, -1.2356436252593994f, 1.9828448295593262f, 0.11120811104774475f, 0.7421922087669373f, -0.289458692073822f },
            module.W.data<float>().ToArray(), 1e-6f);
        AssertClose(new[] { 0.08624497801065445f, -0.18805235624313354f, 0.2871921956539154f }, module.B.data<float>().ToArray(), 1e-6f);
        var (state, description) = optimizer.StateDict();
        AssertClose(new[] { 0.009963546879589558f, -0.028127271682024002f, 0.04025120288133621f, 0.060001958161592484f, -0.07979705184698105f, -0.000705347687471658f },
            state["w.exp_avg"].data<float>().ToArray(), 1e-7f);
        AssertClose(new[] { 0.00012686618720181286f, 0.00017707365623209625f, 0.0001295362744713202f, 0.00038255401886999607f, 0.0008036553044803441f, 7.400906179100275e-05f },
            state["w.exp_avg_sq"].data<float>().ToArray(), 1e-9f);
        Assert.Equal(2, description["step"]!.GetValue<long>());
    }

    [Fact]
    public void Loaded_state_continues_exactly_like_the_original()
    {
        using var first = new TwoParameters();
        using var second = new TwoParameters();
        using var a = new AdamWOptimizer([([("w", first.W), ("b", first.B)], 0.01)], 0.01, 0.9, 0.999, 1e-8);
        using var b = new AdamWOptimizer([([("w", second.W), ("b", second.B)], 0.01)], 0.01, 0.9, 0.999, 1e-8);
        StepWith(first, a, 0.5f);
        var (state, description) = a.StateDict();
        using (no_grad())
        {
            second.W.copy_(first.W);
            second.B.copy_(first.B);
        }
        b.LoadStateDict(state, description, "optimizer.safetensors");

        StepWith(first, a, -0.25f);
        StepWith(second, b, -0.25f);

        Assert.Equal(first.W.data<float>().ToArray(), second.W.data<float>().ToArray());
        Assert.Equal(first.B.data<float>().ToArray(), second.B.data<float>().ToArray());
    }

    [Theory]
    [InlineData("step", "-1", "\"step\" must be between 0")]
    [InlineData("step", "\"two\"", "\"step\" must be a whole number")]
    [InlineData("lr", "-0.5", "\"lr\" must be between 0")]
    [InlineData("fp32_master_weights", "1", "\"fp32_master_weights\" must be true or false")]
    public void A_description_value_out_of_type_or_range_is_LM0432_naming_the_file(string key, string value, string message)
    {
        using var first = new TwoParameters();
        using var a = new AdamWOptimizer([([("w", first.W), ("b", first.B)], 0.01)], 0.01, 0.9, 0.999, 1e-8);
        StepWith(first, a, 0.5f);
        var (state, description) = a.StateDict();
        description[key] = System.Text.Json.Nodes.JsonNode.Parse(value);
        using var second = new TwoParameters();
        using var b = new AdamWOptimizer([([("w", second.W), ("b", second.B)], 0.01)], 0.01, 0.9, 0.999, 1e-8);
        var error = Assert.Throws<LmException>(() => b.LoadStateDict(state, description, "optimizer.safetensors", "optimizer.json"));
        Assert.Equal(ErrorCodes.OptimizerStateInvalid, error.Code);
        Assert.StartsWith("optimizer.json: " + message, error.Message);
    }

    [Fact]
    public void State_for_a_parameter_the_model_lacks_is_LM0432_before_anything_is_copied()
    {
        using var first = new TwoParameters();
        using var a = new AdamWOptimizer([([("w", first.W), ("b", first.B)], 0.01)], 0.01, 0.9, 0.999, 1e-8);
        StepWith(first, a, 0.5f);
        var (state, description) = a.StateDict();
        var extended = new Dictionary<string, Tensor>(state) { ["other.exp_avg"] = zeros(2) };
        using var second = new TwoParameters();
        using var b = new AdamWOptimizer([([("w", second.W), ("b", second.B)], 0.01)], 0.01, 0.9, 0.999, 1e-8);
        var error = Assert.Throws<LmException>(() => b.LoadStateDict(extended, description, "optimizer.safetensors"));
        Assert.Equal(ErrorCodes.OptimizerStateInvalid, error.Code);
        Assert.Contains("other.exp_avg", error.Message);
        Assert.Equal(0, b.StepCount);
    }

    [Fact]
    public void Fp32_masters_update_a_bfloat16_model_like_an_fp32_one_would()
    {
        using var reference = new TwoParameters();
        using var mixed = new TwoParameters();
        using var fp32 = new AdamWOptimizer([([("W", reference.W), ("B", reference.B)], 0.1)], 0.01, 0.9, 0.999, 1e-8);
        mixed.to(bfloat16);
        using (no_grad())
        {
            // Start both from the same (bf16-representable) weights.
            reference.W.copy_(mixed.W);
            reference.B.copy_(mixed.B);
        }
        using var masters = new AdamWOptimizer([([("W", mixed.W), ("B", mixed.B)], 0.1)], 0.01, 0.9, 0.999, 1e-8, keepFp32Master: true);

        for (int i = 0; i < 3; i++)
        {
            StepWith(reference, fp32, 0.5f + i);
            StepWith(mixed, masters, 0.5f + i);
        }

        var (state, _) = masters.StateDict();
        Assert.Equal(ScalarType.BFloat16, mixed.W.dtype);
        Assert.Equal(ScalarType.Float32, state["W.master"].dtype);
        AssertClose(reference.W.data<float>().ToArray(), state["W.master"].data<float>().ToArray(), 1e-6f);
        AssertClose(reference.W.data<float>().ToArray(), mixed.W.to(float32).data<float>().ToArray(), 1e-2f);
    }

    private static void StepWith(TwoParameters module, AdamWOptimizer optimizer, float g)
    {
        module.W.grad = full(module.W.shape, g, dtype: module.W.dtype);
        module.B.grad = full(module.B.shape, -g, dtype: module.B.dtype);
        optimizer.ClipGradNorm(1.0).Dispose();
        optimizer.Step();
        optimizer.ZeroGrad();
    }

    private static void AssertClose(float[] expected, float[] actual, float tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"[{i}] expected {expected[i]:R}, got {actual[i]:R}");
    }

    private sealed class TwoParameters : nn.Module
    {
        public Parameter W = nn.Parameter(tensor(new float[] { 0.5f, -1.25f, 2.0f, 0.125f, 0.75f, -0.3f }).view(2, 3));
        public Parameter B = nn.Parameter(tensor(new float[] { 0.1f, -0.2f, 0.3f }));

        public TwoParameters() : base(nameof(TwoParameters)) => RegisterComponents();
    }
}
