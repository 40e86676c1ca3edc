namespace Lm.Runtime.Tests;

/// <summary>
/// Tests that seed torch's global generator and expect the same draws afterwards (two models from one seed).
/// xunit runs test classes in parallel and any torch call on another thread can draw in between, so these run
/// alone, after the parallel ones.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchRandomCollection
{
    public const string Name = "Torch global random generator";
}
