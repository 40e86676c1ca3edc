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
        Assert.Contains("tokenizer.json, vocab.json + merges.txt", error.Message);
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
