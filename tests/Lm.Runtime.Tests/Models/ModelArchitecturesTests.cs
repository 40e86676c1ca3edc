using Lm.Runtime.Models;
using Lm.Schema;

namespace Lm.Runtime.Tests.Models;

/// <summary>
/// The architecture registry and the table the generator and the build read (src/Shared) describe the same
/// architectures: a registration added without its row (or a preset named in one and not the other) fails here.
/// </summary>
public sealed class ModelArchitecturesTests
{
    [Fact]
    public void Every_row_of_the_shared_table_has_one_registration_in_its_order()
    {
        Assert.Equal(ArchitectureTable.Rows.Select(r => r.ModelType), ModelArchitectures.All.Select(a => a.ModelType));
        Assert.Equal(["gpt2", "roberta", "bert", "llama", "qwen2", "mistral"], ModelConfig.SupportedModelTypes);
    }

    [Fact]
    public void Each_registration_agrees_with_its_row_on_names_objective_and_presets()
    {
        foreach (var architecture in ModelArchitectures.All)
        {
            var row = ArchitectureTable.Find(architecture.ModelType)!;
            var config = (ModelConfig)Activator.CreateInstance(architecture.ConfigType)!;
            Assert.Equal(row.ModelType, config.ModelType);
            Assert.Equal(row.Architecture, config.ArchitectureName);
            Assert.Equal(row.Presets.Order(StringComparer.Ordinal), architecture.Presets.Keys.Order(StringComparer.Ordinal));
            foreach (string preset in row.Presets)
            {
                var presetConfig = ModelPresets.Config(preset);
                Assert.IsType(architecture.ConfigType, presetConfig);
                Assert.Equal([row.Architecture], presetConfig.Architectures!);
            }
            // A name is known as one architecture only.
            foreach (string name in row.Presets.Concat(row.HubIds))
                Assert.Same(row, ArchitectureTable.FindByModelName(name));
        }
        Assert.Equal(ArchitectureTable.Rows.SelectMany(r => r.Presets).Order(StringComparer.Ordinal), ModelPresets.Names.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("tiny-gpt2", "clm", "GPT2Tokenizer")]
    [InlineData("tiny-roberta", "mlm", "RobertaTokenizer")]
    [InlineData("tiny-bert", "mlm", null)]
    [InlineData("tiny-llama", "clm", "GPT2Tokenizer")]
    [InlineData("tiny-qwen2", "clm", "GPT2Tokenizer")]
    public void A_preset_builds_its_architecture_with_its_objective_and_vocabulary(string preset, string objective, string? builtInTokenizer)
    {
        var config = ModelPresets.Config(preset);
        var architecture = ModelArchitectures.For(config);
        Assert.Equal(objective, architecture.Objective);
        Assert.Equal(objective, ModelSource.ObjectiveFor(null, config.ModelType));
        using var model = LanguageModel.Create(config, seed: 1);
        Assert.Equal(objective == "clm" ? TrainingObjective.CausalLm : TrainingObjective.MaskedLm, model.Objective);
        Assert.Equal(architecture.Architecture, model.ArchitectureName);
        if (builtInTokenizer is null)
            Assert.Equal(Lm.Runtime.Errors.ErrorCodes.TokenizerFilesNotFound,
                Assert.Throws<Lm.Runtime.Errors.LmException>(() => ModelSource.DefaultTokenizer(config)).Code);
        else
            Assert.Equal(builtInTokenizer, ModelSource.DefaultTokenizer(config).TokenizerClass);
    }

    [Fact]
    public void The_tokenizer_class_a_config_implies_comes_from_the_table()
    {
        Assert.Equal("GPT2Tokenizer", Lm.Runtime.Tokenization.PretrainedTokenizerDefaults.ClassForModelType("gpt2"));
        Assert.Equal("RobertaTokenizer", Lm.Runtime.Tokenization.PretrainedTokenizerDefaults.ClassForModelType("roberta"));
        Assert.Equal("BertTokenizer", Lm.Runtime.Tokenization.PretrainedTokenizerDefaults.ClassForModelType("bert"));
        Assert.Equal("DistilBertTokenizer", Lm.Runtime.Tokenization.PretrainedTokenizerDefaults.ClassForModelType("distilbert"));
        Assert.Equal("LlamaTokenizer", Lm.Runtime.Tokenization.PretrainedTokenizerDefaults.ClassForModelType("llama"));
        Assert.Equal("LlamaTokenizer", Lm.Runtime.Tokenization.PretrainedTokenizerDefaults.ClassForModelType("mistral"));
        Assert.Equal("Qwen2Tokenizer", Lm.Runtime.Tokenization.PretrainedTokenizerDefaults.ClassForModelType("qwen2"));
        Assert.Null(Lm.Runtime.Tokenization.PretrainedTokenizerDefaults.ClassForModelType("t5"));
    }
}
