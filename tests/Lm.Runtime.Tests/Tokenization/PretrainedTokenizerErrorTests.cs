using Lm.Runtime.Errors;
using Lm.Runtime.Tokenization;

namespace Lm.Runtime.Tests.Tokenization;

public class PretrainedTokenizerErrorTests
{
    private static LmException LoadFails(string folder) => Assert.Throws<LmException>(() => LmTokenizer.FromPretrained(folder));

    [Fact]
    public void Missing_folder_is_LM0201()
    {
        string folder = Path.Combine(Path.GetTempPath(), "lm-no-such-tokenizer-" + Guid.NewGuid().ToString("N"));
        var error = LoadFails(folder);
        Assert.Equal("LM0201", error.Code);
        Assert.Contains(folder, error.Message);
    }

    [Fact]
    public void Empty_folder_is_LM0201_that_says_nothing_was_found()
    {
        using var folder = TokenizerTestFiles.NewFolder();
        var error = LoadFails(folder.Path);
        Assert.Equal(ErrorCodes.TokenizerFilesNotFound, error.Code);
        Assert.Contains("tokenizer.json, tokenizer.model (SentencePiece), vocab.json + merges.txt", error.Message);
        Assert.Contains("nothing", error.Message);
    }

    [Fact]
    public void Folder_with_only_configs_lists_what_it_holds()
    {
        using var folder = TokenizerTestFiles.NewFolder();
        folder.Write("tokenizer_config.json", "{}");
        folder.Write("config.json", """{"model_type": "gpt2"}""");
        var error = LoadFails(folder.Path);
        Assert.Equal(ErrorCodes.TokenizerFilesNotFound, error.Code);
        Assert.Contains("Found: tokenizer_config.json, config.json", error.Message);
    }

    [Fact]
    public void Vocab_json_without_merges_is_LM0202_naming_the_missing_file()
    {
        using var folder = TokenizerTestFiles.NewFolder();
        folder.Write("vocab.json", """{"a": 0}""");
        var error = LoadFails(folder.Path);
        Assert.Equal(ErrorCodes.TokenizerFileMissing, error.Code);
        Assert.Contains("vocab.json but no merges.txt", error.Message);
        Assert.Contains("Found: vocab.json", error.Message);
        Assert.Equal(folder.File("merges.txt"), error.File);
    }

    [Fact]
    public void Merges_without_vocab_json_is_LM0202()
    {
        using var folder = TokenizerTestFiles.NewFolder();
        folder.Write("merges.txt", "#version: 0.2\na b\n");
        Assert.Equal(ErrorCodes.TokenizerFileMissing, LoadFails(folder.Path).Code);
    }

    [Fact]
    public void Bad_merges_line_is_LM0203_with_its_line()
    {
        using var folder = TokenizerTestFiles.NewFolder();
        folder.Write("vocab.json", """{"a": 0, "b": 1, "ab": 2}""");
        folder.Write("merges.txt", "#version: 0.2\na b\na b c\n");
        var error = LoadFails(folder.Path);
        Assert.Equal(ErrorCodes.TokenizerFileMalformed, error.Code);
        Assert.Equal(3, error.Line);
        Assert.Contains("merges.txt, line 3", error.Message);
    }

    [Fact]
    public void Merge_of_unknown_tokens_is_LM0203()
    {
        using var folder = TokenizerTestFiles.NewFolder();
        folder.Write("vocab.json", """{"a": 0, "b": 1}""");
        folder.Write("merges.txt", "#version: 0.2\na b\n");
        var error = LoadFails(folder.Path);
        Assert.Equal(ErrorCodes.TokenizerFileMalformed, error.Code);
        Assert.Contains("'ab'", error.Message);
    }

    [Fact]
    public void Invalid_json_is_LM0203_naming_the_file()
    {
        using var folder = TokenizerTestFiles.NewFolder();
        folder.Write("vocab.json", "{\"a\": 0,\n \"b\": }");
        folder.Write("merges.txt", "#version: 0.2\n");
        var error = LoadFails(folder.Path);
        Assert.Equal(ErrorCodes.TokenizerFileMalformed, error.Code);
        Assert.Equal(folder.File("vocab.json"), error.File);
        Assert.Equal(2, error.Line);
    }

    [Fact]
    public void Saving_over_a_file_is_LM0205()
    {
        using var folder = TokenizerTestFiles.NewFolder();
        folder.Write("occupied", "a file, not a folder");
        var error = Assert.Throws<LmException>(() => LmTokenizer.Gpt2().Save(folder.File("occupied")));
        Assert.Equal(ErrorCodes.TokenizerSaveFailed, error.Code);
    }
}

/// <summary>Wrongly typed values and ids outside the vocabulary in tokenizer files are LM0220 / LM0221, naming the key.</summary>
public class TokenizerValueTests
{
    // A three-token byte-level BPE vocabulary: enough for the reader, with ids 0..2.
    private static TemporaryFolder BpeFolder(string? tokenizerConfig = null, string? addedTokens = null, string vocab = """{"a": 0, "b": 1, "ab": 2}""")
    {
        var folder = TokenizerTestFiles.NewFolder();
        folder.Write("vocab.json", vocab);
        folder.Write("merges.txt", "#version: 0.2\na b\n");
        if (tokenizerConfig is not null) folder.Write("tokenizer_config.json", tokenizerConfig);
        if (addedTokens is not null) folder.Write("added_tokens.json", addedTokens);
        return folder;
    }

    private static LmException LoadFails(TemporaryFolder folder, string code)
    {
        using (folder)
        {
            var error = Assert.Throws<LmException>(() => LmTokenizer.FromPretrained(folder.Path));
            Assert.Equal(code, error.Code);
            return error;
        }
    }

    [Theory]
    [InlineData("""{"model_max_length": "long"}""", "\"model_max_length\" must be a number")]
    [InlineData("""{"add_prefix_space": "yes"}""", "\"add_prefix_space\" must be true or false")]
    [InlineData("""{"tokenizer_class": 5}""", "\"tokenizer_class\" must be a string")]
    [InlineData("""{"eos_token": 7}""", "\"eos_token\" must be a string")]
    [InlineData("""{"eos_token": {"content": 7}}""", "\"eos_token.content\" must be a string")]
    [InlineData("""{"additional_special_tokens": ["<a>", 3]}""", "\"additional_special_tokens[1]\" must be a string")]
    [InlineData("""{"added_tokens_decoder": {"3": {"content": "<x>", "special": "yes"}}}""", "\"added_tokens_decoder.3.special\" must be true or false")]
    public void Wrong_types_in_tokenizer_config_are_LM0220_naming_file_and_key(string config, string message)
    {
        var error = LoadFails(BpeFolder(config), ErrorCodes.TokenizerValueInvalid);
        Assert.Contains("tokenizer_config.json: " + message, error.Message);
    }

    [Theory]
    [InlineData("-5")]
    [InlineData("x")]
    public void An_added_tokens_decoder_key_that_is_no_token_id_is_LM0221(string id)
    {
        var error = LoadFails(BpeFolder("{\"added_tokens_decoder\": {\"" + id + "\": {\"content\": \"<x>\", \"special\": true}}}"), ErrorCodes.TokenIdOutOfRange);
        Assert.Contains($"\"added_tokens_decoder.{id}\"", error.Message);
    }

    [Fact]
    public void An_added_token_id_past_the_vocabulary_is_LM0221()
    {
        var error = LoadFails(BpeFolder("""{"added_tokens_decoder": {"50": {"content": "<x>", "special": true}}}"""), ErrorCodes.TokenIdOutOfRange);
        Assert.Contains("'<x>' = 50", error.Message);
        // Three entries, <x>, and GPT2Tokenizer's default <|endoftext|> after it.
        Assert.Contains("vocabulary of 5", error.Message);
    }

    [Fact]
    public void A_negative_added_tokens_json_id_is_LM0221()
    {
        var error = LoadFails(BpeFolder(addedTokens: """{"<x>": -1}"""), ErrorCodes.TokenIdOutOfRange);
        Assert.Contains("\"<x>\"", error.Message);
    }

    [Fact]
    public void A_vocab_json_id_beyond_what_lm_tune_allocates_is_LM0221()
    {
        // Gaps between ids are legal (the tokenizers library keeps them); an id that would size the id table to
        // gigabytes is not.
        var error = LoadFails(BpeFolder(vocab: """{"a": 0, "b": 1, "ab": 2000000000}"""), ErrorCodes.TokenIdOutOfRange);
        Assert.Contains("'ab' has id 2000000000", error.Message);
    }

    [Fact]
    public void A_vocab_json_key_with_a_lone_surrogate_is_LM0203()
    {
        var error = LoadFails(BpeFolder(vocab: """{"a": 0, "b": 1, "\ud800": 2}"""), ErrorCodes.TokenizerFileMalformed);
        Assert.Contains("vocab.json: a key is not valid text", error.Message);
    }

    [Fact]
    public void Values_hubs_write_load_a_huge_model_max_length_null_tokens_and_named_extra_tokens()
    {
        using var folder = BpeFolder("""
            {"model_max_length": 1000000000000000019884624838656, "pad_token": null, "tokenizer_class": "GPT2Tokenizer",
             "extra_special_tokens": {}, "errors": "replace", "clean_up_tokenization_spaces": false}
            """);
        var tokenizer = LmTokenizer.FromPretrained(folder.Path);
        Assert.Equal(int.MaxValue, tokenizer.ModelMaxLength);
        Assert.Null(tokenizer.PadTokenId);
    }

    [Fact]
    public void Added_tokens_right_after_the_vocabulary_load_with_their_ids()
    {
        using var folder = BpeFolder("""{"added_tokens_decoder": {"3": {"content": "<x>", "special": true}}, "eos_token": "<x>"}""");
        var tokenizer = LmTokenizer.FromPretrained(folder.Path);
        Assert.Equal(3, tokenizer.EosTokenId);
        Assert.Equal(4, tokenizer.TokenToId("<|endoftext|>"));   // GPT2Tokenizer's default bos/unk, next id
        Assert.Equal(5, tokenizer.VocabSize);
    }
}
