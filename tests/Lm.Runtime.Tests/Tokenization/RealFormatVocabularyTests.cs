using Lm.Runtime.Tokenization;

namespace Lm.Runtime.Tests.Tokenization;

/// <summary>
/// Tokenizer files in the format Hugging Face publishes (vocab.json + merges.txt, vocab.txt), written by hand so
/// that every expected id follows from the file: no id here is derived from GPT-2's vocabulary or from lm-tune.
/// The ids of the entries that matter are roberta-base's and bert-base-uncased's, so the expectations are also the
/// published outputs of those tokenizers (see Reference/README.md).
/// </summary>
public class RealFormatVocabularyTests
{
    // A sparse roberta-base: the special tokens, the two words of HF's RobertaTokenizer docstring example with their
    // roberta-base ids, and the pieces (ids 50000+, chosen freely) the hand-written merges build them from.
    private const string RobertaVocabJson = """
        {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "Ġworld": 232, "ĠHello": 20920, "Hello": 31414, "<mask>": 50264,
         "H": 50000, "e": 50001, "l": 50002, "o": 50003, "Ġ": 50004, "w": 50005, "r": 50006, "d": 50007,
         "He": 50008, "ll": 50009, "Hell": 50010, "Ġw": 50011, "or": 50012, "Ġwor": 50013, "Ġworl": 50014}
        """;

    // Merge ranks by line. "Hello": H e → He, l l → ll, He ll → Hell, Hell o → Hello. " world" (Ġworld): Ġ w → Ġw,
    // o r → or, Ġw or → Ġwor, Ġwor l → Ġworl, Ġworl d → Ġworld. " Hello": as "Hello", then Ġ Hello → ĠHello.
    private const string RobertaMerges = """
        #version: 0.2
        H e
        l l
        He ll
        Hell o
        Ġ Hello
        Ġ w
        o r
        Ġw or
        Ġwor l
        Ġworl d

        """;

    private static TemporaryFolder RobertaFolder()
    {
        var folder = TokenizerTestFiles.NewFolder();
        folder.Write("vocab.json", RobertaVocabJson);
        folder.Write("merges.txt", RobertaMerges);
        folder.Write("tokenizer_config.json", """{"tokenizer_class": "RobertaTokenizer", "model_max_length": 512}""");
        return folder;
    }

    [Theory]
    [InlineData("Hello world", new[] { 0, 31414, 232, 2 })] // HF RobertaTokenizer docstring, roberta-base
    [InlineData(" Hello world", new[] { 0, 20920, 232, 2 })] // same docstring: the leading space is part of the word
    [InlineData("Hello<mask> world", new[] { 0, 31414, 50264, 232, 2 })]
    public void Roberta_vocab_json_and_merges_give_the_ids_in_the_file(string text, int[] expected)
    {
        using var folder = RobertaFolder();
        var roberta = LmTokenizer.FromPretrained(folder.Path);

        Assert.Equal(expected, roberta.Encode(text));
        Assert.Equal("RobertaTokenizer", roberta.TokenizerClass);
        Assert.Equal((0, 1, 2, 3, 50264), (roberta.BosTokenId, roberta.PadTokenId, roberta.EosTokenId, roberta.UnkTokenId, roberta.MaskTokenId));
        Assert.Equal(text.Replace("<mask>", ""), roberta.Decode(roberta.Encode(text), skipSpecialTokens: true));
    }

    [Fact]
    public void Roberta_merges_apply_by_rank_not_by_position_in_the_word()
    {
        using var folder = RobertaFolder();
        var roberta = LmTokenizer.FromPretrained(folder.Path);

        // "ello": e l l o → (l l) has the best rank → e ll o; no merge joins e+ll or ll+o → [e, ll, o].
        Assert.Equal(new[] { 50001, 50009, 50003 }, roberta.Encode("ello", addSpecialTokens: false));
        // " word": Ġ w → Ġw, o r → or, Ġw or → Ġwor; "Ġwor d" is no merge → [Ġwor, d].
        Assert.Equal(new[] { 50013, 50007 }, roberta.Encode(" word", addSpecialTokens: false));
    }

    /// <summary>
    /// bert-base-uncased's layout for the tokens used: [PAD] 0, [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103,
    /// "world" 2088, "hello" 7592, "##s" 2015 (the line number is the id; other lines are fillers).
    /// </summary>
    private static TemporaryFolder BertFolder()
    {
        var lines = Enumerable.Range(0, 7593).Select(i => $"[unused{i}]").ToArray();
        (lines[0], lines[100], lines[101], lines[102], lines[103]) = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]");
        (lines[2088], lines[7592], lines[2015]) = ("world", "hello", "##s");
        var folder = TokenizerTestFiles.NewFolder();
        folder.Write("vocab.txt", string.Join("\n", lines) + "\n");
        folder.Write("tokenizer_config.json", """{"tokenizer_class": "BertTokenizer", "do_lower_case": true}""");
        return folder;
    }

    [Theory]
    [InlineData("Hello world", new[] { 101, 7592, 2088, 102 })] // bert-base-uncased: tokenizer("Hello world")
    [InlineData("HELLO worlds [MASK]", new[] { 101, 7592, 2088, 2015, 103, 102 })]
    [InlineData("hello planet", new[] { 101, 7592, 100, 102 })]
    public void Bert_vocab_txt_gives_the_line_numbers_as_ids(string text, int[] expected)
    {
        using var folder = BertFolder();
        var bert = LmTokenizer.FromPretrained(folder.Path);

        Assert.Equal(expected, bert.Encode(text));
        Assert.Equal((101, 102, 0, 100, 103), (bert.ClsTokenId, bert.SepTokenId, bert.PadTokenId, bert.UnkTokenId, bert.MaskTokenId));
    }
}
