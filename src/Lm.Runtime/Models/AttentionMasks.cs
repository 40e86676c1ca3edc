using Lm.Runtime.Native;
using static TorchSharp.torch;

namespace Lm.Runtime.Models;

/// <summary>HF's handling of the 0/1 attention mask that marks padding.</summary>
internal static class AttentionMasks
{
    /// <summary>True when the mask is absent or all ones: HF then drops it (and SDPA may use its causal flag).</summary>
    public static bool MasksNothing(Tensor? attentionMask)
    {
        if (attentionMask is null) return true;
        using var allOnes = attentionMask.eq(ScalarCache.Of(1L)).all();
        return allOnes.item<bool>();
    }

    /// <summary>
    /// HF's extended attention mask: <c>[batch, 1, 1, keys]</c>, <c>(1 - mask) × finfo(dtype).min</c>, so 0 where a key
    /// is attended and the dtype's most negative finite value where it is padding; added to the scores before softmax.
    /// </summary>
    public static Tensor PaddingMask(Tensor attentionMask, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var keep = attentionMask.unsqueeze(1).unsqueeze(1).to(dtype);
        return keep.neg().add(ScalarCache.Of(1.0)).mul(ScalarCache.Of(finfo(dtype).min)).MoveToOuterDisposeScope();
    }
}
