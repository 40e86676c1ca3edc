using Lm.Runtime.Jobs;
using Lm.Tasks.Jobs;

[assembly: FineTuneJobConfiguration("wiki-gpt2", "{\"learning_rate\":3e-05,\"block_size\":64}", ConfigType = "Sample.Configs.WikiGpt2")]
[assembly: FineTuneJobConfiguration("legacy-job", "{\"num_train_epochs\":1}")]

namespace Lm.Tasks.Tests.Jobs;

public class CompiledJobConfigurationTests
{
    private static IReadOnlyList<CompiledJobConfiguration> Read(out IReadOnlyList<string> typeNames) =>
        CompiledJobConfiguration.ReadFrom(typeof(CompiledJobConfigurationTests).Assembly.Location, out typeNames);

    [Fact]
    public void Reads_the_attributes_from_metadata_without_loading_the_assembly()
    {
        var configurations = Read(out var typeNames);
        Assert.Equal(
            [
                new CompiledJobConfiguration("wiki-gpt2", "{\"learning_rate\":3e-05,\"block_size\":64}", "Sample.Configs.WikiGpt2"),
                new CompiledJobConfiguration("legacy-job", "{\"num_train_epochs\":1}", null),
            ],
            configurations.OrderByDescending(c => c.JobName == "wiki-gpt2"));
        Assert.Contains(nameof(CompiledJobConfigurationTests), typeNames);
    }

    [Theory]
    [InlineData("Sample.Configs.WikiGpt2", "wiki-gpt2")]
    [InlineData("WikiGpt2", "wiki-gpt2")]
    [InlineData("legacy-job", "legacy-job")]
    [InlineData("wiki-gpt2", null)]
    [InlineData("Configs.WikiGpt2", null)]
    public void Config_metadata_names_a_class_by_full_or_simple_name(string config, string? job)
    {
        Assert.Equal(job, Read(out _).SingleOrDefault(c => c.IsNamedBy(config))?.JobName);
    }
}
