using System.Text.Json.Nodes;
using Lm.Runtime.Tokenization;

namespace Lm.Runtime.Tests.Tokenization;

public class WordPieceTokenizerTests
{
    /// <summary>A small BERT vocabulary; the line index is the id.</summary>
    internal static readonly string[] Vocabulary =
    [
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "play", "##ing", "##s",
        ",", ".", "!", "+", "$", "naive", "cafe", "don", "'", "t",
        "a", "b", "5", "[", "]", "un", "##aff", "##able", "中", "##€",
    ];

    internal static TemporaryFolder WriteVocabTxt(string? tokenizerConfig = null)
    {
        var folder = TokenizerTestFiles.NewFolder();
        folder.Write("vocab.txt", string.Join("\n", Vocabulary) + "\n");
        if (tokenizerConfig is not null)
        {
            folder.Write("tokenizer_config.json", tokenizerConfig);
        }

        return folder;
    }

    public static TheoryData<string, int[]> UncasedCases => new()
    {
        { "Hello, World!", [2, 5, 10, 6, 12, 3] },
        { "Naïve Café", [2, 15, 16, 3] },
        { "playing plays", [2, 7, 8, 7, 9, 3] },
        { "hello\nworld\tplay", [2, 5, 6, 7, 3] },
        { "a+b=$5", [2, 20, 13, 21, 1, 14, 22, 3] },
        { "unaffable xyz", [2, 25, 26, 27, 1, 3] },
        { "[CLS] hello [cls]", [2, 2, 5, 23, 1, 24, 3] },
        { "中文", [2, 28, 1, 3] },
        { "5€", [2, 22, 29, 3] },
        { "HELLO[MASK]", [2, 5, 4, 3] },
        { "hel\u200blo", [2, 5, 3] },
        { new string('a', 101), [2, 1, 3] },
        { "", [2, 3] },
    };

    [Theory]
    [MemberData(nameof(UncasedCases))]
    public void Uncased_vocab_txt_gives_bert_ids(string text, int[] expected)
    {
        using var folder = WriteVocabTxt();
        LmTokenizer bert = LmTokenizer.FromPretrained(folder.Path);
        Assert.Equal(expected, bert.Encode(text));
    }

    [Fact]
    public void Special_tokens_are_berts_and_wrap_the_text()
    {
        using var folder = WriteVocabTxt("""{"do_lower_case": true, "model_max_length": 512}""");
        LmTokenizer bert = LmTokenizer.FromPretrained(folder.Path);
        Assert.Equal(TokenizerKind.WordPiece, bert.Kind);
        Assert.Equal("BertTokenizer", bert.TokenizerClass);
        Assert.Equal(512, bert.ModelMaxLength);
        Assert.Equal(30, bert.VocabSize);
        Assert.Equal((2, 3, 0, 4, 1), (bert.ClsTokenId, bert.SepTokenId, bert.PadTokenId, bert.MaskTokenId, bert.UnkTokenId));
        Assert.Null(bert.BosTokenId);
        Assert.Equal(new[] { 0, 1, 2, 3, 4 }, bert.AllSpecialIds.Order().ToArray());
        Assert.Equal(new[] { 5, 6 }, bert.Encode("hello world", addSpecialTokens: false));
    }

    [Fact]
    public void Do_lower_case_false_keeps_case_and_accents()
    {
        using var folder = WriteVocabTxt("""{"do_lower_case": false}""");
        LmTokenizer cased = LmTokenizer.FromPretrained(folder.Path);
        Assert.Equal(new[] { 2, 1, 5, 1, 3 }, cased.Encode("Hello hello naïve"));
        using var uncasedFolder = WriteVocabTxt();
        Assert.NotEqual(LmTokenizer.FromPretrained(uncasedFolder.Path).Fingerprint, cased.Fingerprint);
    }

    [Fact]
    public void Decode_joins_pieces_and_cleans_up_spaces()
    {
        using var folder = WriteVocabTxt();
        LmTokenizer bert = LmTokenizer.FromPretrained(folder.Path);
        Assert.Equal("[CLS] hello, world! [SEP]", bert.Decode([2, 5, 10, 6, 12, 3]));
        Assert.Equal("hello, world!", bert.Decode([2, 5, 10, 6, 12, 3], skipSpecialTokens: true));
        Assert.Equal("playing plays", bert.Decode([7, 8, 7, 9]));
        Assert.Equal("don't", bert.Decode([17, 18, 19]));
        Assert.Equal("hello world", bert.Decode(bert.Encode("Hello World"), skipSpecialTokens: true));
    }

    [Fact]
    public void Saved_folder_writes_vocab_txt_and_loads_back()
    {
        using var folder = WriteVocabTxt("""{"do_lower_case": true, "model_max_length": 512}""");
        LmTokenizer bert = LmTokenizer.FromPretrained(folder.Path);
        using var saved = TokenizerTestFiles.NewFolder();
        bert.Save(saved.Path);

        Assert.Equal(Vocabulary, File.ReadAllLines(saved.File("vocab.txt")));
        var config = JsonNode.Parse(File.ReadAllText(saved.File("tokenizer_config.json")))!.AsObject();
        Assert.Equal("BertTokenizer", (string)config["tokenizer_class"]!);
        Assert.True((bool)config["do_lower_case"]!);
        Assert.True((bool)config["clean_up_tokenization_spaces"]!);
        Assert.Equal("[MASK]", (string)config["mask_token"]!);

        LmTokenizer loaded = LmTokenizer.FromPretrained(saved.Path);
        foreach ((string text, int[] ids) in UncasedCases.Select(row => ((string)row[0], (int[])row[1])))
        {
            Assert.Equal(ids, loaded.Encode(text));
        }
    }
}
