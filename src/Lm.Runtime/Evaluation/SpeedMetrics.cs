using System.Globalization;
using System.Numerics;

namespace Lm.Runtime.Evaluation;

/// <summary>HF's <c>speed_metrics</c> and the Python <c>round</c> it uses.</summary>
public static class SpeedMetrics
{
    /// <summary>
    /// <c>{split}_runtime</c> (rounded to 4 places), and when the runtime is not zero
    /// <c>{split}_samples_per_second</c> and <c>{split}_steps_per_second</c> (3 places).
    /// </summary>
    public static IEnumerable<KeyValuePair<string, double>> Compute(string split, double runtimeSeconds, double? samples, int? steps)
    {
        yield return KeyValuePair.Create($"{split}_runtime", PythonRound(runtimeSeconds, 4));
        if (runtimeSeconds == 0) yield break;
        if (samples is double n) yield return KeyValuePair.Create($"{split}_samples_per_second", PythonRound(n / runtimeSeconds, 3));
        if (steps is int s) yield return KeyValuePair.Create($"{split}_steps_per_second", PythonRound(s / runtimeSeconds, 3));
    }

    /// <summary>
    /// Python's <c>round(value, digits)</c>: the exact binary value rounded to <paramref name="digits"/> decimal
    /// places, ties to even. .NET's fixed-point formatting already rounds the exact value; only exact ties (which
    /// it rounds away from zero) need handling.
    /// </summary>
    public static double PythonRound(double value, int digits)
    {
        if (!double.IsFinite(value) || value == 0) return value;
        if (ExactTie(value, digits, out BigInteger twiceScaled))
        {
            // twiceScaled = 2 * |value| * 10^digits is odd: pick the even neighbour of value * 10^digits.
            BigInteger lower = (twiceScaled - 1) / 2;
            BigInteger chosen = lower.IsEven ? lower : lower + 1;
            string digitsText = chosen.ToString(CultureInfo.InvariantCulture).PadLeft(digits + 1, '0');
            string text = digitsText[..^digits] + "." + digitsText[^digits..];
            double magnitude = double.Parse(text, CultureInfo.InvariantCulture);
            return value < 0 ? -magnitude : magnitude;
        }
        return double.Parse(value.ToString("F" + digits, CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
    }

    /// <summary>Whether |value| * 10^digits lies exactly halfway between two integers.</summary>
    private static bool ExactTie(double value, int digits, out BigInteger twiceScaled)
    {
        twiceScaled = BigInteger.Zero;
        long bits = BitConverter.DoubleToInt64Bits(Math.Abs(value));
        int exponentBits = (int)((bits >> 52) & 0x7FF);
        long fraction = bits & 0xFFFFFFFFFFFFFL;
        long mantissa = exponentBits == 0 ? fraction : fraction | (1L << 52);
        int exponent = (exponentBits == 0 ? 1 : exponentBits) - 1075; // |value| = mantissa * 2^exponent
        int shift = -(exponent + 1);                                   // 2|value| = mantissa * 2^-shift
        if (shift <= 0) return false;                                  // 2|value| * 10^digits is an even integer
        BigInteger numerator = mantissa * BigInteger.Pow(10, digits);
        BigInteger denominator = BigInteger.One << shift;
        if (!(numerator % denominator).IsZero) return false;
        twiceScaled = numerator / denominator;
        return !twiceScaled.IsEven;
    }
}
