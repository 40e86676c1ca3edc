using static TorchSharp.torch;

namespace Lm.Runtime.Models;

/// <summary>
/// Gradients a custom autograd function hands to libtorch from its backward call. The engine copies the tensor
/// references as the call returns, so the managed handles may go at any later point; left in the step's dispose
/// scope they would keep a second reference to every parameter gradient until the step ends (and stop libtorch
/// from adopting the tensor as <c>.grad</c> without a copy). Released at the next custom function call and at the
/// end of each training micro-step. Kept per thread: the engine runs a CPU graph's backward calls on the thread that
/// called backward, and a release on another thread (a second model training beside this one, a parallel test) must
/// not free a handle libtorch has not taken yet.
/// </summary>
internal static class ReturnedGradients
{
    [ThreadStatic]
    private static List<Tensor>? _pending;

    /// <summary>Takes <paramref name="gradient"/> out of its dispose scope and returns it (null stays null).</summary>
    public static Tensor Hand(Tensor? gradient)
    {
        if (gradient is null || gradient.IsInvalid) return null!;
        gradient.DetachFromDisposeScope();
        (_pending ??= []).Add(gradient);
        return gradient;
    }

    /// <summary>Disposes the handles of gradients this thread returned so far.</summary>
    public static void Release()
    {
        if (_pending is null) return;
        foreach (var tensor in _pending) tensor.Dispose();
        _pending.Clear();
    }
}
