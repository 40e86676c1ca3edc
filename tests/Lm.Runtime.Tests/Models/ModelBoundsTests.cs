using Lm.Runtime.Errors;
using Lm.Runtime.Models;

namespace Lm.Runtime.Tests.Models;

/// <summary>Configs too large to build are refused from their numbers alone, before a tensor is allocated.</summary>
[Collection(TorchRandomCollection.Name)]
public class ModelBoundsTests
{
    [Theory]
    [InlineData("tiny-gpt2")]
    [InlineData("tiny-roberta")]
    [InlineData("tiny-bert")]
    public void The_parameter_estimate_equals_the_built_models_count(string preset)
    {
        var config = ModelPresets.Config(preset);
        using var model = LanguageModel.Create(config, seed: 1);
        Assert.Equal(model.ParameterCount(), config.ParameterCount());
    }

    [Fact]
    public void The_estimate_of_gpt2_is_hfs_124M()
    {
        Assert.Equal(124_439_808, new Gpt2Config().ParameterCount());
    }

    [Theory]
    [InlineData("""{"model_type":"gpt2","n_layer":1000000,"n_embd":8,"n_head":1}""", "1000000 layers")]
    [InlineData("""{"model_type":"gpt2","n_embd":600000000,"n_head":1}""", "4 × n_embd")]
    [InlineData("""{"model_type":"gpt2","n_embd":2000000000,"n_inner":8,"n_head":1}""", "4 × n_embd")]
    [InlineData("""{"model_type":"gpt2","n_embd":500000000,"n_head":1,"n_layer":1000}""", "64-bit")]
    [InlineData("""{"model_type":"bert","num_hidden_layers":5000}""", "5000 layers")]
    public void Sizes_beyond_what_can_be_built_are_LM0121(string json, string message)
    {
        // Refused while parsing, before anything of that size exists: measured in bytes this thread allocated, not in
        // seconds (a wall-clock limit fails on a busy machine and passes a slow bug on a fast one).
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<LmException>(() => ModelConfig.Parse(json));
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        Assert.Equal(ErrorCodes.ModelConfigOutOfBounds, error.Code);
        Assert.Contains(message, error.Message);
        Assert.True(allocated < 1 << 20, $"{allocated} bytes allocated");
    }

    [Fact]
    public void A_model_larger_than_the_memory_is_LM0120_with_the_estimate_and_the_limit()
    {
        var config = (Gpt2Config)ModelConfig.Parse("""{"model_type":"gpt2","vocab_size":2000000000}""");
        var error = Assert.Throws<LmException>(() => LanguageModel.EnsureParametersFit(config, availableBytes: 16L << 30));
        Assert.Equal(ErrorCodes.ModelTooLarge, error.Code);
        Assert.Contains($"{config.ParameterCount():N0} parameters", error.Message);
        Assert.Contains("16 GiB of memory", error.Message);

        // Without the check this is a 6 TB allocation, which ends in another error or the OOM killer, never in LM0120.
        Assert.Equal(ErrorCodes.ModelTooLarge, Assert.Throws<LmException>(() => LanguageModel.Create(config)).Code);
    }

    [Fact]
    public void A_model_that_fits_passes_the_memory_check_and_training_needs_four_copies()
    {
        var gpt2 = new Gpt2Config();
        long bytes = gpt2.ParameterCount() * 4;
        LanguageModel.EnsureParametersFit(gpt2, availableBytes: bytes);
        LanguageModel.EnsureParametersFit(gpt2, availableBytes: 4 * bytes, copies: 4);
        var error = Assert.Throws<LmException>(() => LanguageModel.EnsureParametersFit(gpt2, availableBytes: 3 * bytes, copies: 4));
        Assert.Equal(ErrorCodes.ModelTooLarge, error.Code);
        Assert.Contains("4 copies training holds", error.Message);
    }

    [Theory]
    [InlineData(99)]
    [InlineData(-1)]
    public void Ids_outside_the_embedding_are_LM0221_not_an_index_error(long badId)
    {
        using var model = LanguageModel.Create(ModelConfig.Parse("""{"model_type":"gpt2","vocab_size":99,"n_embd":8,"n_head":2,"n_layer":1,"n_positions":16}"""), seed: 1);
        using var ids = TorchSharp.torch.tensor(new long[] { 1, 2, badId }).unsqueeze(0);
        var error = Assert.Throws<LmException>(() => model.Forward(ids));
        Assert.Equal(ErrorCodes.TokenIdOutOfRange, error.Code);
        Assert.Contains($"Token id {badId}", error.Message);
    }
}
