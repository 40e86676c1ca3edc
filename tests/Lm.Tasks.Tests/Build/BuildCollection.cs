namespace Lm.Tasks.Tests.Build;

/// <summary>Tests that run `dotnet build`: one at a time, as two at once on two cores only measure each other.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class BuildCollection
{
    public const string Name = "dotnet build";
}
