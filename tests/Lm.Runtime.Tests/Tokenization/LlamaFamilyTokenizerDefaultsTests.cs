using System.Text.Json.Nodes;
using Lm.Runtime.Tests.Tokenization.TokenizerJson;
using Lm.Runtime.Tokenization;

namespace Lm.Runtime.Tests.Tokenization;

/// <summary>
/// Folders whose tokenizer_config.json says little or nothing: the special tokens and the wrapping come from the
/// class AutoTokenizer picks (tokenizer_class, else config.json's model_type), with that class's defaults —
/// LlamaTokenizerFast: unk &lt;unk&gt;, bos &lt;s&gt;, eos &lt;/s&gt;, no pad, add_bos_token true; Qwen2TokenizerFast:
/// unk, eos and pad &lt;|endoftext|&gt;, no bos. A missing pad token stays missing, as run_clm leaves it.
/// </summary>
public sealed class LlamaFamilyTokenizerDefaultsTests
{
    [Theory]
    [InlineData("""{"tokenizer_class": "LlamaTokenizerFast"}""", null)]
    [InlineData(null, """{"model_type": "llama"}""")]
    [InlineData(null, """{"model_type": "mistral"}""")]
    [InlineData("""{"add_eos_token": false}""", """{"model_type": "mixtral"}""")]
    public void Llama_class_defaults_fill_in_the_special_tokens_and_add_bos(string? tokenizerConfig, string? config)
    {
        // The file's own post-processor adds nothing: LlamaTokenizerFast replaces it with "<s> $A".
        JsonObject file = TokenizerJsonVariants.Build("llama2");
        file["post_processor"] = null;
        using var folder = TokenizerTestFiles.NewFolder();
        folder.Write("tokenizer.json", file.ToJsonString());
        if (tokenizerConfig is not null)
        {
            folder.Write("tokenizer_config.json", tokenizerConfig);
        }

        if (config is not null)
        {
            folder.Write("config.json", config);
        }

        LmTokenizer tokenizer = LmTokenizer.FromPretrained(folder.Path);
        int IdOf(string token) => file["added_tokens"]!.AsArray().Single(t => t!["content"]!.GetValue<string>() == token)!["id"]!.GetValue<int>();

        Assert.Equal("LlamaTokenizer", tokenizer.TokenizerClass);
        Assert.Equal(("<s>", IdOf("<s>")), (tokenizer.BosToken, tokenizer.BosTokenId!.Value));
        Assert.Equal(("</s>", IdOf("</s>")), (tokenizer.EosToken, tokenizer.EosTokenId!.Value));
        Assert.Equal(("<unk>", IdOf("<unk>")), (tokenizer.UnkToken, tokenizer.UnkTokenId!.Value));
        Assert.Null(tokenizer.PadToken);
        int[] plain = tokenizer.Encode("Hello world", addSpecialTokens: false);
        Assert.Equal([IdOf("<s>"), .. plain], tokenizer.Encode("Hello world"));
    }

    [Fact]
    public void Add_eos_token_in_a_partial_config_appends_the_default_eos()
    {
        using var folder = TokenizerTestFiles.NewFolder();
        JsonObject file = TokenizerJsonVariants.Build("llama2");
        folder.Write("tokenizer.json", file.ToJsonString());
        folder.Write("tokenizer_config.json", """{"tokenizer_class": "LlamaTokenizer", "add_eos_token": true}""");
        LmTokenizer tokenizer = LmTokenizer.FromPretrained(folder.Path);
        int[] plain = tokenizer.Encode("Hello", addSpecialTokens: false);
        Assert.Equal([1, .. plain, 2], tokenizer.Encode("Hello"));
    }

    [Fact]
    public void Qwen2_model_type_gets_endoftext_for_unk_eos_and_pad_and_no_bos()
    {
        using var folder = TokenizerTestFiles.NewFolder();
        JsonObject file = TokenizerJsonVariants.Build("qwen2");
        folder.Write("tokenizer.json", file.ToJsonString());
        folder.Write("config.json", """{"model_type": "qwen2"}""");
        LmTokenizer tokenizer = LmTokenizer.FromPretrained(folder.Path);
        int endOfText = file["added_tokens"]!.AsArray().Single(t => t!["content"]!.GetValue<string>() == "<|endoftext|>")!["id"]!.GetValue<int>();

        Assert.Equal("Qwen2Tokenizer", tokenizer.TokenizerClass);
        Assert.Null(tokenizer.BosToken);
        Assert.Equal([endOfText, endOfText, endOfText], new[] { tokenizer.EosTokenId, tokenizer.PadTokenId, tokenizer.UnkTokenId }.Select(id => id!.Value));
        Assert.Equal(tokenizer.Encode("Hello world", addSpecialTokens: false), tokenizer.Encode("Hello world"));
    }

    [Fact]
    public void Qwen2_config_that_sets_tokens_to_null_wins_over_the_class_defaults()
    {
        using var folder = TokenizerTestFiles.NewFolder();
        folder.Write("tokenizer.json", TokenizerJsonVariants.Build("qwen2").ToJsonString());
        folder.Write("tokenizer_config.json", """{"tokenizer_class": "Qwen2Tokenizer", "unk_token": null, "eos_token": "<|im_end|>"}""");
        LmTokenizer tokenizer = LmTokenizer.FromPretrained(folder.Path);
        Assert.Null(tokenizer.UnkToken);
        Assert.Equal("<|im_end|>", tokenizer.EosToken);
        Assert.Equal("<|endoftext|>", tokenizer.PadToken);
    }
}
