using Lm.Runtime.Models;

namespace Lm.Runtime.Tests.Models;

/// <summary>Small shapes that keep model tests fast: vocabulary 1000, width 32, two layers, two heads.</summary>
internal static class TinyConfigs
{
    public static Gpt2Config Gpt2() => new() { VocabSize = 1000, NPositions = 64, NEmbd = 32, NLayer = 2, NHead = 2 };
}
