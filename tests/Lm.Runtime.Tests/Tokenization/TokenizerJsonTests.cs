using Lm.Runtime.Errors;
using Lm.Runtime.Tokenization;

namespace Lm.Runtime.Tests.Tokenization;

public class TokenizerJsonTests
{
    private const string BpeVocabulary = """
        {"Ġ": 0, "Ċ": 1, "d": 2, "e": 3, "h": 4, "l": 5, "o": 6, "r": 7, "w": 8, "he": 9, "ll": 10, "hell": 11,
         "hello": 12, "Ġw": 13, "or": 14, "Ġwor": 15, "Ġworl": 16, "Ġworld": 17, "ld": 18, "<|endoftext|>": 19}
        """;

    private static readonly string[] s_merges = ["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "Ġwor l", "Ġworl d", "l d"];

    private static readonly (string Text, int[] Ids)[] s_bpeCases =
    [
        ("hello world\n", [12, 17, 1]),
        ("hold", [4, 6, 18]),
        ("world", [8, 14, 18]),
        (" hello<|endoftext|>", [0, 12, 19]),
    ];

    private static string BpeTokenizerJson(string postProcessor = """{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true}""") => $$"""
        {
          "version": "1.0",
          "truncation": null,
          "padding": null,
          "added_tokens": [
            {"id": 19, "content": "<|endoftext|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": true}
          ],
          "normalizer": null,
          "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
          "post_processor": {{postProcessor}},
          "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
          "model": {
            "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": "", "end_of_word_suffix": "",
            "fuse_unk": false, "byte_fallback": false,
            "vocab": {{BpeVocabulary}},
            "merges": [{{string.Join(", ", s_merges.Select(m => $"\"{m}\""))}}]
          }
        }
        """;

    [Fact]
    public void Bpe_tokenizer_json_gives_the_same_ids_as_vocab_json_and_merges_txt()
    {
        using var fromJson = TokenizerTestFiles.NewFolder();
        fromJson.Write("tokenizer.json", BpeTokenizerJson());

        // Without a class, AutoTokenizer gives a bare PreTrainedTokenizerFast; GPT-2's own folders name theirs.
        fromJson.Write("tokenizer_config.json", """{"tokenizer_class": "GPT2Tokenizer"}""");
        using var fromFiles = TokenizerTestFiles.NewFolder();
        fromFiles.Write("vocab.json", BpeVocabulary);
        fromFiles.Write("merges.txt", "#version: 0.2\n" + string.Join("\n", s_merges) + "\n");

        LmTokenizer json = LmTokenizer.FromPretrained(fromJson.Path);
        LmTokenizer files = LmTokenizer.FromPretrained(fromFiles.Path);
        foreach ((string text, int[] ids) in s_bpeCases)
        {
            Assert.Equal(ids, json.Encode(text));
            Assert.Equal(ids, files.Encode(text));
            Assert.Equal(text, json.Decode(ids));
        }

        Assert.Equal("GPT2Tokenizer", json.TokenizerClass);
        Assert.Equal(19, json.EosTokenId);
        Assert.Equal(20, json.VocabSize);
        Assert.Equal(new[] { 19 }, json.AllSpecialIds.ToArray());
    }

    [Fact]
    public void Bpe_merges_may_be_written_as_pairs()
    {
        using var folder = TokenizerTestFiles.NewFolder();
        string pairs = string.Join(", ", s_merges.Select(m => m.Split(' ')).Select(p => $"[\"{p[0]}\", \"{p[1]}\"]"));
        folder.Write("tokenizer.json", BpeTokenizerJson().Replace(
            string.Join(", ", s_merges.Select(m => $"\"{m}\"")), pairs, StringComparison.Ordinal));
        LmTokenizer tokenizer = LmTokenizer.FromPretrained(folder.Path);
        Assert.Equal(new[] { 12, 17, 1 }, tokenizer.Encode("hello world\n"));
    }

    [Fact]
    public void Roberta_post_processor_wraps_the_text()
    {
        using var folder = TokenizerTestFiles.NewFolder();
        folder.Write("tokenizer.json", BpeTokenizerJson("""{"type": "RobertaProcessing", "sep": ["<|endoftext|>", 19], "cls": ["hello", 12], "trim_offsets": true, "add_prefix_space": false}"""));
        LmTokenizer tokenizer = LmTokenizer.FromPretrained(folder.Path);
        Assert.Equal(new[] { 12, 8, 14, 18, 19 }, tokenizer.Encode("world"));
        Assert.Equal(new[] { 8, 14, 18 }, tokenizer.Encode("world", addSpecialTokens: false));
    }

    [Fact]
    public void Tokenizer_config_sets_class_special_tokens_and_max_length()
    {
        using var folder = TokenizerTestFiles.NewFolder();
        folder.Write("tokenizer.json", BpeTokenizerJson());
        folder.Write("tokenizer_config.json", """{"tokenizer_class": "GPT2TokenizerFast", "model_max_length": 64, "pad_token": "<pad>", "eos_token": "<|endoftext|>"}""");
        folder.Write("special_tokens_map.json", """{"bos_token": {"content": "hello", "lstrip": false, "normalized": false, "rstrip": false, "single_word": false}}""");
        LmTokenizer tokenizer = LmTokenizer.FromPretrained(folder.Path);
        Assert.Equal("GPT2Tokenizer", tokenizer.TokenizerClass);
        Assert.Equal(64, tokenizer.ModelMaxLength);
        Assert.Equal(12, tokenizer.BosTokenId);
        Assert.Equal(19, tokenizer.EosTokenId);
        // A special token missing from the vocabulary is appended, as transformers does.
        Assert.Equal(20, tokenizer.PadTokenId);
        Assert.Equal(21, tokenizer.VocabSize);
        Assert.Equal(new[] { 8, 20, 14, 18 }, tokenizer.Encode("w<pad>orld"));
    }

    private const string WordPieceTokenizerJson = """
        {
          "version": "1.0",
          "added_tokens": [
            {"id": 0, "content": "[PAD]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
            {"id": 1, "content": "[UNK]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
            {"id": 2, "content": "[CLS]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
            {"id": 3, "content": "[SEP]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
            {"id": 4, "content": "[MASK]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}
          ],
          "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
          "pre_tokenizer": {"type": "BertPreTokenizer"},
          "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [],
            "special_tokens": {
              "[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
              "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}
            }
          },
          "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
          "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100, "vocab": VOCAB}
        }
        """;

    [Fact]
    public void WordPiece_tokenizer_json_gives_the_same_ids_as_vocab_txt()
    {
        using var folder = TokenizerTestFiles.NewFolder();
        string vocab = "{" + string.Join(", ", WordPieceTokenizerTests.Vocabulary.Select((token, id) => $"\"{token}\": {id}")) + "}";
        folder.Write("tokenizer.json", WordPieceTokenizerJson.Replace("VOCAB", vocab, StringComparison.Ordinal));
        folder.Write("tokenizer_config.json", """{"tokenizer_class": "BertTokenizerFast", "do_lower_case": true}""");
        LmTokenizer json = LmTokenizer.FromPretrained(folder.Path);
        using var vocabTxt = WordPieceTokenizerTests.WriteVocabTxt();
        LmTokenizer files = LmTokenizer.FromPretrained(vocabTxt.Path);

        foreach ((string text, int[] ids) in WordPieceTokenizerTests.UncasedCases.Select(row => ((string)row[0], (int[])row[1])))
        {
            Assert.Equal(ids, json.Encode(text));
            Assert.Equal(files.Encode(text), json.Encode(text));
        }

        Assert.Equal(files.AllSpecialIds.Order(), json.AllSpecialIds.Order());
        Assert.Equal("[CLS] hello, world! [SEP]", json.Decode([2, 5, 10, 6, 12, 3]));
    }

    [Fact]
    public void WordLevel_model_is_an_unsupported_tokenizer()
    {
        using var folder = TokenizerTestFiles.NewFolder();
        folder.Write("tokenizer.json", """{"model": {"type": "WordLevel", "vocab": {"a": 0}, "unk_token": "a"}, "normalizer": null}""");
        var error = Assert.Throws<LmException>(() => LmTokenizer.FromPretrained(folder.Path));
        Assert.Equal(ErrorCodes.TokenizerUnsupported, error.Code);
        Assert.Contains("WordLevel", error.Message);
    }
}
