using Lm.Runtime.Models;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Models;

/// <summary>
/// Mistral's / Qwen2's sliding window with a left-padded batch, as transformers' masking_utils builds it
/// (<c>sliding_window_causal_mask_function</c> and the padding mask combined with "and"): query q and key j are
/// positions of the padded sequence (cache positions), q sees j when j ≤ q, q − w &lt; j and j is not padding. The
/// expected masks are written out by hand.
/// </summary>
public class SlidingWindowMaskTests
{
    private static readonly long[,] PaddingMask = { { 1, 1, 1, 1, 1, 1 }, { 0, 0, 1, 1, 1, 1 } };

    // Window 3, six positions: rows are queries, columns keys, 1 = visible.
    private static readonly int[][,] Expected =
    [
        new[,]
        {
            { 1, 0, 0, 0, 0, 0 }, { 1, 1, 0, 0, 0, 0 }, { 1, 1, 1, 0, 0, 0 },
            { 0, 1, 1, 1, 0, 0 }, { 0, 0, 1, 1, 1, 0 }, { 0, 0, 0, 1, 1, 1 },
        },
        new[,]
        {
            // The padding queries 0 and 1 see nothing; the window still counts padded positions (q = 3 sees 2 and 3).
            { 0, 0, 0, 0, 0, 0 }, { 0, 0, 0, 0, 0, 0 }, { 0, 0, 1, 0, 0, 0 },
            { 0, 0, 1, 1, 0, 0 }, { 0, 0, 1, 1, 1, 0 }, { 0, 0, 0, 1, 1, 1 },
        },
    ];

    [Fact]
    public void Training_mask_of_a_left_padded_batch_counts_the_window_in_padded_positions()
    {
        using var scope = NewDisposeScope();
        var mask = LlamaMasks.CausalMask(tensor(PaddingMask), 2, 6, 0, 3, ScalarType.Float32, CPU);
        AssertVisible(mask, firstQuery: 0);
    }

    [Fact]
    public void Generation_step_after_a_cache_sees_the_same_keys_as_training_does()
    {
        using var scope = NewDisposeScope();
        // Two new tokens after four cached positions: queries 4 and 5 of the same padded rows.
        var mask = LlamaMasks.CausalMask(tensor(PaddingMask), 2, 2, 4, 3, ScalarType.Float32, CPU);
        AssertVisible(mask, firstQuery: 4);
    }

    private static void AssertVisible(Tensor mask, int firstQuery)
    {
        float minimum = (float)finfo(ScalarType.Float32).min;
        long queries = mask.shape[2];
        for (int b = 0; b < 2; b++)
        for (int q = 0; q < queries; q++)
        for (int j = 0; j < 6; j++)
        {
            float value = mask[b, 0, q, j].item<float>();
            Assert.True(value == (Expected[b][firstQuery + q, j] == 1 ? 0f : minimum), $"batch {b}, query {firstQuery + q}, key {j}: {value}");
        }
    }
}
