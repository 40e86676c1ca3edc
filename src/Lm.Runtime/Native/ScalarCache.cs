using System.Collections.Concurrent;
using TorchSharp;

namespace Lm.Runtime.Native;

/// <summary>
/// Long-lived TorchSharp <see cref="Scalar"/>s for the constants of the hot paths (activation coefficients, a
/// dtype's minimum, masking probabilities). TorchSharp passes a Scalar's native handle to libtorch without keeping
/// the Scalar alive, so a temporary one (an implicit conversion from a number) can be finalized by a garbage
/// collection on another thread while libtorch reads it; libtorch then fails with "Unknown scalar type" or reads
/// whatever the freed memory holds. A cached Scalar is never collected. Only for values drawn from a small set:
/// the cache never shrinks. A one-off value is held in a <c>using</c> variable instead.
/// </summary>
internal static class ScalarCache
{
    private static readonly ConcurrentDictionary<double, Scalar> Reals = new();
    private static readonly ConcurrentDictionary<long, Scalar> Integers = new();

    /// <summary>The cached floating-point Scalar of <paramref name="value"/>.</summary>
    public static Scalar Of(double value) => Reals.GetOrAdd(value, static v => v.ToScalar());

    /// <summary>The cached integer Scalar of <paramref name="value"/>.</summary>
    public static Scalar Of(long value) => Integers.GetOrAdd(value, static v => v.ToScalar());
}
