using Lm.Runtime.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Training;

/// <summary>
/// AdamWOptimizer against torch 2.x's single-tensor AdamW after clip_grad_norm_, written out here on whole tensors,
/// bit for bit, for an fp32 model and for a bf16 model with fp32 masters (its gradients widened, then clipped and
/// stepped in fp32), with parameters large enough for libtorch and the optimizer's own update (AdamWUpdate) to split
/// their loops over two threads, and sizes that leave remainders after every vector width. Both routes are checked:
/// ClipGradNorm then Step, and ClipGradNormAndStep (the scaling inside the update's pass).
/// They change the torch thread count, so they run alone.
/// </summary>
[Collection(TorchRandomCollection.Name)]
public class AdamWReferenceTests
{
    private const long Large = 342_170;

    [Theory]
    [InlineData(1, false, 0.9, false)]
    [InlineData(2, false, 0.9, false)]
    [InlineData(1, true, 0.9, false)]
    [InlineData(2, true, 0.9, false)]
    // A beta1 of 0.5 or less makes libtorch's lerp take its other form.
    [InlineData(2, true, 0.3, false)]
    // The CPU pass needs contiguous memory; a transposed gradient goes through torch's op sequence instead.
    [InlineData(2, false, 0.9, true)]
    [InlineData(2, true, 0.9, true)]
    public void Fp32_model_gets_torchs_AdamW_bit_for_bit(int threads, bool combined, double beta1, bool transposedGradient) => WithThreads(threads, () =>
    {
        using var model = new Parameters(ScalarType.Float32);
        var (refW, refB) = (model.W.detach().clone(), model.B.detach().clone());
        var reference = new ReferenceAdamW(refW, refB, beta1);
        using var optimizer = new AdamWOptimizer([([("w", model.W)], 0.1), ([("b", model.B)], 0.0)], 0.01, beta1, 0.999, 1e-8);
        var generator = new Generator(7);
        for (int step = 0; step < 3; step++)
        {
            var gw = transposedGradient ? randn([10, Large / 10], generator: generator).t() : randn(model.W.shape, generator: generator);
            var gb = randn(model.B.shape, generator: generator);
            model.W.grad = gw.clone();
            model.B.grad = gb.clone();
            Assert.Equal(!transposedGradient, model.W.grad!.is_contiguous());
            float norm = ClipAndStep(optimizer, combined);
            optimizer.ZeroGrad();
            float expectedNorm = reference.Step(gw, gb, clip: 1.0);
            Assert.Equal(expectedNorm, norm);
            AssertBitwise(refW, model.W.detach());
            AssertBitwise(refB, model.B.detach());
        }
        AssertBitwise(reference.ExpAvgW, optimizer.StateDict().Tensors["w.exp_avg"]);
        AssertBitwise(reference.ExpAvgSqW, optimizer.StateDict().Tensors["w.exp_avg_sq"]);
    });

    [Theory]
    [InlineData(1, false)]
    [InlineData(2, false)]
    [InlineData(1, true)]
    [InlineData(2, true)]
    public void Bf16_model_with_fp32_masters_gets_the_whole_tensor_update_of_its_widened_gradients(int threads, bool combined) => WithThreads(threads, () =>
    {
        using var model = new Parameters(ScalarType.BFloat16);
        var (masterW, masterB) = (model.W.detach().to(float32), model.B.detach().to(float32));
        var reference = new ReferenceAdamW(masterW, masterB);
        using var optimizer = new AdamWOptimizer([([("w", model.W)], 0.1), ([("b", model.B)], 0.0)], 0.01, 0.9, 0.999, 1e-8, keepFp32Master: true);
        var generator = new Generator(11);
        for (int step = 0; step < 3; step++)
        {
            var (gw, gb) = (randn(model.W.shape, generator: generator).to(bfloat16), randn(model.B.shape, generator: generator).to(bfloat16));
            model.W.grad = gw.clone();
            model.B.grad = gb.clone();
            float norm = ClipAndStep(optimizer, combined);
            optimizer.ZeroGrad();
            float expectedNorm = reference.Step(gw.to(float32), gb.to(float32), clip: 1.0);
            Assert.Equal(expectedNorm, norm);
            Assert.True(norm > 1.0f, "the gradients are clipped");
            var state = optimizer.StateDict().Tensors;
            AssertBitwise(masterW, state["w.master"]);
            AssertBitwise(masterB, state["b.master"]);
            AssertBitwise(masterW.to(bfloat16), model.W.detach());
        }
    });

    [Fact]
    public void The_combined_route_leaves_the_gradients_unscaled_and_the_separate_one_scales_them()
    {
        using var model = new Parameters(ScalarType.Float32);
        using var optimizer = new AdamWOptimizer([([("w", model.W)], 0.1), ([("b", model.B)], 0.0)], 0.01, 0.9, 0.999, 1e-8);
        var generator = new Generator(13);
        var gw = randn(model.W.shape, generator: generator);
        model.W.grad = gw.clone();
        model.B.grad = randn(model.B.shape, generator: generator);
        float norm = optimizer.ClipGradNormAndStep(1.0).item<float>();
        Assert.True(norm > 1.0f, "the gradients needed clipping");
        AssertBitwise(gw, model.W.grad!);
        optimizer.ClipGradNorm(1.0).Dispose();
        Assert.True(model.W.grad!.norm(2f).item<float>() < norm / 2, "ClipGradNorm scales the gradients in place");
    }

    private static float ClipAndStep(AdamWOptimizer optimizer, bool combined)
    {
        if (combined) return optimizer.ClipGradNormAndStep(1.0).item<float>();
        float norm = optimizer.ClipGradNorm(1.0).item<float>();
        optimizer.Step();
        return norm;
    }

    private static void WithThreads(int threads, Action test)
    {
        int before = get_num_threads();
        set_num_threads(threads);
        try
        {
            test();
        }
        finally
        {
            set_num_threads(before);
        }
    }

    private static void AssertBitwise(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.dtype, actual.dtype);
        Assert.Equal(expected.shape, actual.shape);
        var a = expected.view(-1).to(float32).data<float>().ToArray();
        var b = actual.reshape(-1).to(float32).data<float>().ToArray();
        for (int i = 0; i < a.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(a[i]) == BitConverter.SingleToInt32Bits(b[i]), $"[{i}] expected {a[i]:R}, got {b[i]:R}");
    }

    /// <summary>torch 2.x's single-tensor AdamW after clip_grad_norm_, on whole tensors (weight decay 0.1 on w only).</summary>
    private sealed class ReferenceAdamW(Tensor w, Tensor b, double beta1 = 0.9)
    {
        private int _step;
        public Tensor ExpAvgW { get; } = zeros_like(w);
        public Tensor ExpAvgSqW { get; } = zeros_like(w);
        private readonly Tensor _expAvgB = zeros_like(b), _expAvgSqB = zeros_like(b);

        public float Step(Tensor gw, Tensor gb, double clip)
        {
            using var noGrad = no_grad();
            var totalNorm = stack([gw.norm(2f), gb.norm(2f)]).norm(2f);
            var coefficient = clamp(totalNorm.add(1e-6).reciprocal().mul(clip), max: 1.0);
            gw = gw.mul(coefficient);
            gb = gb.mul(coefficient);
            _step++;
            double lr = 0.01, beta2 = 0.999, eps = 1e-8;
            double bc1 = 1 - Math.Pow(beta1, _step), bc2Sqrt = Math.Sqrt(1 - Math.Pow(beta2, _step));
            using var weight = tensor((float)(1 - beta1));
            foreach (var (p, g, m, v, decay) in new[] { (w, gw, ExpAvgW, ExpAvgSqW, 0.1), (b, gb, _expAvgB, _expAvgSqB, 0.0) })
            {
                p.mul_(1 - lr * decay);
                m.lerp_(g, weight);
                v.mul_(beta2).addcmul_(g, g, 1 - beta2);
                var denom = v.sqrt().div_(bc2Sqrt).add_(eps);
                p.addcdiv_(m, denom, -lr / bc1);
            }
            return totalNorm.item<float>();
        }
    }

    private sealed class Parameters : nn.Module
    {
        public Parameter W;
        public Parameter B;

        public Parameters(ScalarType dtype) : base(nameof(Parameters))
        {
            var generator = new Generator(3);
            W = nn.Parameter(randn([Large / 10, 10], generator: generator).to(dtype));
            B = nn.Parameter(randn([Large / 10], generator: generator).to(dtype));
            RegisterComponents();
        }
    }
}
