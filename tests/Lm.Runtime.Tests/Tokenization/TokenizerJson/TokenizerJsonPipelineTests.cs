using System.Text.Json.Nodes;
using Lm.Runtime.Errors;
using Lm.Runtime.Tokenization;

namespace Lm.Runtime.Tests.Tokenization.TokenizerJson;

/// <summary>tokenizer_config.json on top of a general tokenizer.json, saving, and what is refused.</summary>
public sealed class TokenizerJsonPipelineTests
{
    [Fact]
    public void Llama_class_rebuilds_the_template_from_add_bos_and_add_eos_token()
    {
        using var folder = TokenizerTestFiles.NewFolder();
        folder.Write("tokenizer.json", TokenizerJsonVariants.Build("llama2").ToJsonString());
        using var oracle = new Tokenizers.DotNet.Tokenizer(folder.File("tokenizer.json"));
        int[] plain = oracle.Encode("Hello world").Skip(1).Select(id => (int)id).ToArray();

        folder.Write("tokenizer_config.json", """{"tokenizer_class": "LlamaTokenizerFast", "bos_token": "<s>", "eos_token": {"content": "</s>"}, "add_bos_token": false, "add_eos_token": true}""");
        LmTokenizer tokenizer = LmTokenizer.FromPretrained(folder.Path);
        Assert.Equal(2, tokenizer.EosTokenId);
        Assert.Equal([.. plain, 2], tokenizer.Encode("Hello world"));

        // LlamaTokenizerFast's defaults: bos yes, eos no.
        folder.Write("tokenizer_config.json", """{"tokenizer_class": "LlamaTokenizerFast", "bos_token": "<s>", "eos_token": "</s>"}""");
        Assert.Equal([1, .. plain], LmTokenizer.FromPretrained(folder.Path).Encode("Hello world"));
    }

    [Fact]
    public void Llama_class_without_a_bos_token_is_LM0241()
    {
        // LlamaTokenizerFast's default bos_token is "<s>"; only an explicit null leaves it without one.
        using var folder = TokenizerTestFiles.NewFolder();
        folder.Write("tokenizer.json", TokenizerJsonVariants.Build("llama2").ToJsonString());
        folder.Write("tokenizer_config.json", """{"tokenizer_class": "LlamaTokenizer", "add_bos_token": true, "bos_token": null}""");
        var error = Assert.Throws<LmException>(() => LmTokenizer.FromPretrained(folder.Path));
        Assert.Equal(ErrorCodes.TokenizerTemplateTokenMissing, error.Code);
    }

    [Theory]
    [InlineData("llama3")]
    [InlineData("llama2")]
    [InlineData("unigram")]
    public void Saved_tokenizer_json_loads_in_the_tokenizers_library_with_the_same_ids(string variant)
    {
        using var source = TokenizerTestFiles.NewFolder();
        source.Write("tokenizer.json", TokenizerJsonVariants.Build(variant).ToJsonString());
        source.Write("tokenizer_config.json", """{"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 2048, "clean_up_tokenization_spaces": false}""");
        LmTokenizer original = LmTokenizer.FromPretrained(source.Path);
        using var saved = TokenizerTestFiles.NewFolder();
        original.Save(saved.Path);

        var config = JsonNode.Parse(File.ReadAllText(saved.File("tokenizer_config.json")))!;
        Assert.Equal("PreTrainedTokenizerFast", config["tokenizer_class"]!.GetValue<string>());
        LmTokenizer reloaded = LmTokenizer.FromPretrained(saved.Path);
        Assert.Equal(original.Fingerprint, reloaded.Fingerprint);
        Assert.Equal(2048, reloaded.ModelMaxLength);
        using var oracle = new Tokenizers.DotNet.Tokenizer(saved.File("tokenizer.json"));
        foreach (string line in TokenizerJsonVariants.TrickyLines)
        {
            Assert.Equal(oracle.Encode(line).Select(id => (int)id), original.Encode(line));
            Assert.Equal(original.Encode(line), reloaded.Encode(line));
        }
    }

    [Fact]
    public void Saved_llama_template_is_the_one_in_use()
    {
        using var source = TokenizerTestFiles.NewFolder();
        source.Write("tokenizer.json", TokenizerJsonVariants.Build("llama2").ToJsonString());
        source.Write("tokenizer_config.json", """{"tokenizer_class": "LlamaTokenizerFast", "bos_token": "<s>", "eos_token": "</s>", "add_eos_token": true}""");
        LmTokenizer original = LmTokenizer.FromPretrained(source.Path);
        using var saved = TokenizerTestFiles.NewFolder();
        original.Save(saved.Path);

        var config = JsonNode.Parse(File.ReadAllText(saved.File("tokenizer_config.json")))!;
        Assert.True(config["add_bos_token"]!.GetValue<bool>());
        Assert.True(config["add_eos_token"]!.GetValue<bool>());
        Assert.Equal("LlamaTokenizerFast", config["tokenizer_class"]!.GetValue<string>());
        using var oracle = new Tokenizers.DotNet.Tokenizer(saved.File("tokenizer.json"));
        Assert.Equal(oracle.Encode("Hello world").Select(id => (int)id), original.Encode("Hello world"));
        Assert.Equal(original.Encode("Hello world"), LmTokenizer.FromPretrained(saved.Path).Encode("Hello world"));
    }

    [Theory]
    [InlineData("normalizer", """{"type": "Precompiled", "precompiled_charsmap": "AA=="}""", "Precompiled")]
    [InlineData("pre_tokenizer", """{"type": "UnicodeScripts"}""", "UnicodeScripts")]
    [InlineData("decoder", """{"type": "CTC", "pad_token": "<pad>"}""", "CTC")]
    [InlineData("post_processor", """{"type": "SomethingNew"}""", "SomethingNew")]
    public void Unsupported_component_is_LM0204_naming_it(string part, string json, string name)
    {
        using var folder = TokenizerTestFiles.NewFolder();
        JsonObject file = TokenizerJsonVariants.Build("qwen2");
        file[part] = JsonNode.Parse(json);
        folder.Write("tokenizer.json", file.ToJsonString());
        var error = Assert.Throws<LmException>(() => LmTokenizer.FromPretrained(folder.Path));
        Assert.Equal(ErrorCodes.TokenizerUnsupported, error.Code);
        Assert.Contains(part, error.Message);
        Assert.Contains(name, error.Message);
    }

    [Fact]
    public void Bpe_dropout_is_refused_rather_than_giving_random_ids()
    {
        using var folder = TokenizerTestFiles.NewFolder();
        JsonObject file = TokenizerJsonVariants.Build("qwen2");
        file["model"]!["dropout"] = 0.1;
        folder.Write("tokenizer.json", file.ToJsonString());
        var error = Assert.Throws<LmException>(() => LmTokenizer.FromPretrained(folder.Path));
        Assert.Equal(ErrorCodes.TokenizerUnsupported, error.Code);
        Assert.Contains("dropout", error.Message);
    }

    [Theory]
    [InlineData(@"\p{Han}+")]
    [InlineData(@"[[:alpha:]]+")]
    [InlineData(@"[a-z&&[^aeiou]]+")]
    [InlineData(@"\h+")]
    [InlineData(@"(a)\1")]
    public void Regex_construct_that_differs_from_oniguruma_is_LM0240(string pattern)
    {
        using var folder = TokenizerTestFiles.NewFolder();
        JsonObject file = TokenizerJsonVariants.Build("qwen2");
        file["pre_tokenizer"]!["pretokenizers"]![0]!["pattern"] = new JsonObject { ["Regex"] = pattern };
        folder.Write("tokenizer.json", file.ToJsonString());
        var error = Assert.Throws<LmException>(() => LmTokenizer.FromPretrained(folder.Path));
        Assert.Equal(ErrorCodes.TokenizerRegexUnsupported, error.Code);
        Assert.Contains(pattern, error.Message);
    }
}
