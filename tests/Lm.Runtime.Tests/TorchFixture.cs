using System.Runtime.CompilerServices;
using Lm.Runtime.Native;

namespace Lm.Runtime.Tests;

internal static class TorchFixture
{
    /// <summary>
    /// Loads libtorch once for the test assembly and keeps torch to one thread: xunit runs test classes in
    /// parallel, and two torch threads per test on two cores collapse throughput.
    /// </summary>
    [ModuleInitializer]
    internal static void Initialize()
    {
        TorchRuntime.EnsureLoaded();
        TorchSharp.torch.set_num_threads(1);
        // This check runs both ways from the global generator's state and puts it back; done here, before any test
        // starts, it cannot replay the draws of a test running in parallel.
        _ = Lm.Runtime.Models.CausalMathAttention.MatchesTorch.Value;
    }
}
