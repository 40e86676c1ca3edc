using System.Text.Json.Nodes;
using Lm.Runtime.Tokenization;

namespace Lm.Runtime.Tests.Tokenization;

/// <summary>
/// The built-in <see cref="LmTokenizer.RobertaFromGpt2"/>: roberta-base's special tokens and size over GPT-2's BPE,
/// GPT-2's tokens after the four specials. It is not roberta-base's vocab.json (whose ids differ, see
/// <see cref="RealFormatVocabularyTests"/>); expected ids come from tiktoken's GPT-2 ranks (Microsoft.ML.Tokenizers,
/// not lm-tune) or from the vocab.json the built-in writes, looked up by token string.
/// </summary>
public class RobertaTokenizerTests
{
    private static readonly LmTokenizer s_roberta = LmTokenizer.RobertaFromGpt2();

    private static readonly Lazy<JsonNode> s_savedVocab = new(() =>
    {
        using var folder = TokenizerTestFiles.NewFolder();
        s_roberta.Save(folder.Path);
        return JsonNode.Parse(File.ReadAllText(folder.File("vocab.json")))!;
    });

    /// <summary>The id of <paramref name="token"/> in the vocab.json the built-in tokenizer saves.</summary>
    private static int SavedId(string token) => s_savedVocab.Value[token]!.GetValue<int>();

    [Fact]
    public void Layout_matches_roberta_base_special_ids_and_vocab_size()
    {
        Assert.Equal(50265, s_roberta.VocabSize);
        Assert.Equal("RobertaTokenizer", s_roberta.TokenizerClass);
        Assert.Equal(512, s_roberta.ModelMaxLength);
        Assert.Equal((0, 1, 2, 3, 50264), (s_roberta.BosTokenId, s_roberta.PadTokenId, s_roberta.EosTokenId, s_roberta.UnkTokenId, s_roberta.MaskTokenId));
        Assert.Equal((0, 2), (s_roberta.ClsTokenId, s_roberta.SepTokenId));
        Assert.Equal("<mask>", s_roberta.MaskToken);
        Assert.Equal(new[] { 0, 1, 2, 3, 50264 }, s_roberta.AllSpecialIds.Order().ToArray());
        Assert.Equal("madeupword0000", s_roberta.ConvertIdToToken(50261));
        Assert.Equal("Ġworld", s_roberta.ConvertIdToToken(SavedId("Ġworld")));
    }

    [Fact]
    public void Encode_wraps_text_in_s_and_end_of_s()
    {
        int hello = SavedId("Hello"), world = SavedId("Ġworld");
        Assert.Equal(new[] { 0, hello, world, 2 }, s_roberta.Encode("Hello world"));
        Assert.Equal(new[] { hello, world }, s_roberta.Encode("Hello world", addSpecialTokens: false));
        Assert.Equal(new[] { 0 }, s_roberta.PrefixTokenIds);
        Assert.Equal(new[] { 2 }, s_roberta.SuffixTokenIds);
    }

    [Fact]
    public void Mask_token_swallows_the_space_before_it()
    {
        int capital = s_roberta.Encode(" capital", addSpecialTokens: false).Single();
        int dot = s_roberta.Encode(".", addSpecialTokens: false).Single();
        Assert.Equal(new[] { 0, SavedId("The"), capital, 50264, dot, 2 }, s_roberta.Encode("The capital <mask>."));
        Assert.Equal("<s>The capital<mask>.</s>", s_roberta.Decode(s_roberta.Encode("The capital <mask>.")));
        Assert.Equal("The capital.", s_roberta.Decode(s_roberta.Encode("The capital <mask>."), skipSpecialTokens: true));
    }

    [Fact]
    public void Special_tokens_mask_marks_the_wrapping_tokens()
    {
        int[] ids = s_roberta.Encode("Hello world");
        Assert.Equal(new[] { true, false, false, true }, s_roberta.GetSpecialTokensMask(ids));
        Assert.True(s_roberta.IsSpecial(50264));
        Assert.False(s_roberta.IsSpecial(50261));
    }

    [Fact]
    public void Saved_folder_is_a_roberta_tokenizer_that_loads_back()
    {
        using var folder = TokenizerTestFiles.NewFolder();
        s_roberta.Save(folder.Path);

        var config = JsonNode.Parse(File.ReadAllText(folder.File("tokenizer_config.json")))!.AsObject();
        Assert.Equal("RobertaTokenizer", (string)config["tokenizer_class"]!);
        Assert.Equal(512, (int)config["model_max_length"]!);
        Assert.True((bool)config["added_tokens_decoder"]!["50264"]!["lstrip"]!);
        var map = JsonNode.Parse(File.ReadAllText(folder.File("special_tokens_map.json")))!.AsObject();
        Assert.Equal("<mask>", (string)map["mask_token"]!["content"]!);
        Assert.True((bool)map["mask_token"]!["lstrip"]!);
        Assert.Equal("<pad>", (string)map["pad_token"]!);
        var vocab = JsonNode.Parse(File.ReadAllText(folder.File("vocab.json")))!.AsObject();
        Assert.Equal(50265, vocab.Count);
        Assert.Equal(File.ReadAllText(folder.File("merges.txt")), MergesOf(LmTokenizer.Gpt2()));

        LmTokenizer loaded = LmTokenizer.FromPretrained(folder.Path);
        Assert.Equal("RobertaTokenizer", loaded.TokenizerClass);
        Assert.Equal(50265, loaded.VocabSize);
        Assert.Equal((0, 1, 2, 3, 50264), (loaded.BosTokenId, loaded.PadTokenId, loaded.EosTokenId, loaded.UnkTokenId, loaded.MaskTokenId));
        foreach (string text in TokenizerTestFiles.CorpusLines("wikitext-2-raw/sample/validation.txt", 200).Append("The capital <mask>."))
        {
            Assert.Equal(s_roberta.Encode(text), loaded.Encode(text));
        }
    }

    [Fact]
    public void Built_in_ids_are_tiktoken_gpt2_ranks_after_the_four_special_tokens()
    {
        foreach (string line in TokenizerTestFiles.CorpusLines("wikitext-2-raw/sample/validation.txt", 100))
        {
            Assert.Equal(Data.TiktokenGpt2.Ids(line).Select(id => id + 4), s_roberta.Encode(line, addSpecialTokens: false));
        }
    }

    private static string MergesOf(LmTokenizer tokenizer)
    {
        using var folder = TokenizerTestFiles.NewFolder();
        tokenizer.Save(folder.Path);
        return File.ReadAllText(folder.File("merges.txt"));
    }
}
