using Lm.Runtime.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Training;

/// <summary>
/// AdamWOptimizer updates large parameters a cache-sized piece at a time; these tests hold it to torch's
/// whole-tensor arithmetic bit for bit (written out here as torch 2.x's single-tensor AdamW), with one and with two
/// torch threads (the pieces follow libtorch's thread split). They change the torch thread count, so they run alone.
/// </summary>
[Collection(TorchRandomCollection.Name)]
public class AdamWPiecesTests
{
    // Two threads split 342,170 elements into ranges of 171,085: two long pieces of 65,536, one piece of 32,768 and
    // a tail of 7,245 each; one thread: five long pieces and a tail of 14,490.
    private const long Large = 342_170;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Fp32_pieces_give_torchs_whole_tensor_AdamW_bit_for_bit(int threads) => WithThreads(threads, () =>
    {
        using var model = new Parameters(ScalarType.Float32);
        var (refW, refB) = (model.W.detach().clone(), model.B.detach().clone());
        var reference = new ReferenceAdamW(refW, refB);
        using var optimizer = new AdamWOptimizer([([("w", model.W)], 0.1), ([("b", model.B)], 0.0)], 0.01, 0.9, 0.999, 1e-8)
        {
            PieceLength = 65_536,
        };
        var generator = new Generator(7);
        for (int step = 0; step < 3; step++)
        {
            var (gw, gb) = (randn(model.W.shape, generator: generator), randn(model.B.shape, generator: generator));
            model.W.grad = gw.clone();
            model.B.grad = gb.clone();
            float norm = optimizer.ClipGradNorm(1.0).item<float>();
            optimizer.Step();
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
    [InlineData(1)]
    [InlineData(2)]
    public void Bf16_model_with_fp32_masters_gets_the_whole_tensor_update_of_its_widened_gradients(int threads) => WithThreads(threads, () =>
    {
        using var model = new Parameters(ScalarType.BFloat16);
        var (masterW, masterB) = (model.W.detach().to(float32), model.B.detach().to(float32));
        var reference = new ReferenceAdamW(masterW, masterB);
        using var optimizer = new AdamWOptimizer([([("w", model.W)], 0.1), ([("b", model.B)], 0.0)], 0.01, 0.9, 0.999, 1e-8, keepFp32Master: true)
        {
            PieceLength = 65_536,
        };
        var generator = new Generator(11);
        for (int step = 0; step < 3; step++)
        {
            var (gw, gb) = (randn(model.W.shape, generator: generator).to(bfloat16), randn(model.B.shape, generator: generator).to(bfloat16));
            model.W.grad = gw.clone();
            model.B.grad = gb.clone();
            float norm = optimizer.ClipGradNorm(1.0).item<float>();
            optimizer.Step();
            optimizer.ZeroGrad();
            // The pieced norm sums the squares in another order than one whole-tensor norm: compared with the exact
            // norm; the update then uses that norm's clipping factor as the reference does.
            double exact = Math.Sqrt(gw.to(float64).pow(2).sum().item<double>() + gb.to(float64).pow(2).sum().item<double>());
            Assert.Equal(exact, norm, exact * 1e-5); // one fp32 norm over the whole tensor: 1.2e-5 off here
            Assert.True(norm > 1.0f, "the gradients are clipped");
            reference.Step(gw.to(float32), gb.to(float32), clip: 1.0, total: norm);
            var state = optimizer.StateDict().Tensors;
            AssertBitwise(masterW, state["w.master"]);
            AssertBitwise(masterB, state["b.master"]);
            AssertBitwise(masterW.to(bfloat16), model.W.detach());
        }
    });

    [Fact]
    public void Pieces_cover_the_tensor_in_order_within_libtorchs_thread_ranges()
    {
        var pieces = ElementwisePieces.Of(Large, 65_536, threads: 2);
        Assert.Equal(new (long, long)[]
        {
            (0, 65_536), (65_536, 65_536), (131_072, 32_768), (163_840, 7_245),
            (171_085, 65_536), (236_621, 65_536), (302_157, 32_768), (334_925, 7_245),
        }, pieces);
        Assert.Equal(new (long, long)[] { (0, 1000) }, ElementwisePieces.Of(1000, 65_536, threads: 2));
        // Long pieces are at least threads × 32768 so that libtorch splits them into aligned halves.
        Assert.Equal((0L, 65_536L), ElementwisePieces.Of(200_000, 1_000, threads: 2)[0]);
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
    private sealed class ReferenceAdamW(Tensor w, Tensor b)
    {
        private int _step;
        public Tensor ExpAvgW { get; } = zeros_like(w);
        public Tensor ExpAvgSqW { get; } = zeros_like(w);
        private readonly Tensor _expAvgB = zeros_like(b), _expAvgSqB = zeros_like(b);

        public float Step(Tensor gw, Tensor gb, double clip, float? total = null)
        {
            using var noGrad = no_grad();
            var totalNorm = total is float given ? tensor(given) : stack([gw.norm(2f), gb.norm(2f)]).norm(2f);
            var coefficient = clamp(totalNorm.add(1e-6).reciprocal().mul(clip), max: 1.0);
            gw = gw.mul(coefficient);
            gb = gb.mul(coefficient);
            _step++;
            double lr = 0.01, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
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
