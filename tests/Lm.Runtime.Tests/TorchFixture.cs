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
    }
}
