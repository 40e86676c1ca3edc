using System.Text.Json.Nodes;
using Lm.Runtime.Tokenization;
using Microsoft.ML.Tokenizers;

namespace Lm.Runtime.Tests.Tokenization;

public class Gpt2TokenizerTests
{
    private static readonly LmTokenizer s_gpt2 = LmTokenizer.Gpt2();

    [Theory]
    [InlineData(" Hello world", new[] { 18435, 995 })]
    [InlineData("Hello world", new[] { 15496, 995 })]
    [InlineData("<|endoftext|>", new[] { 50256 })]
    [InlineData(" = Valkyria Chronicles III = \n", new[] { 796, 569, 18354, 7496, 17740, 6711, 796, 220, 198 })]
    [InlineData("", new int[0])]
    public void Encode_gives_the_ids_of_hugging_face_gpt2(string text, int[] expected)
    {
        Assert.Equal(expected, s_gpt2.Encode(text));
    }

    [Fact]
    public void Tutorial_first_wikitext_line_gives_its_hugging_face_ids()
    {
        IReadOnlyList<string> lines = TokenizerTestFiles.CorpusLines("wikitext-2-raw/sample/train.txt", 2);
        Assert.Equal(" \n", lines[0]);
        Assert.Equal(" = Valkyria Chronicles III = \n", lines[1]);
        Assert.Equal(new[] { 220, 198 }, s_gpt2.Encode(lines[0]));
        Assert.Equal(new[] { 796, 569, 18354, 7496, 17740, 6711, 796, 220, 198 }, s_gpt2.Encode(lines[1]));
    }

    [Fact]
    public void Special_tokens_are_endoftext_and_none_is_added_around_text()
    {
        Assert.Equal(TokenizerKind.ByteLevelBpe, s_gpt2.Kind);
        Assert.Equal("GPT2Tokenizer", s_gpt2.TokenizerClass);
        Assert.Equal(50257, s_gpt2.VocabSize);
        Assert.Equal(1024, s_gpt2.ModelMaxLength);
        Assert.Equal(50256, s_gpt2.BosTokenId);
        Assert.Equal(50256, s_gpt2.EosTokenId);
        Assert.Equal(50256, s_gpt2.UnkTokenId);
        Assert.Null(s_gpt2.PadTokenId);
        Assert.Null(s_gpt2.MaskTokenId);
        Assert.Equal(new[] { 50256 }, s_gpt2.AllSpecialIds.ToArray());
        Assert.Equal(s_gpt2.Encode("Hello world", addSpecialTokens: false), s_gpt2.Encode("Hello world"));
        Assert.Equal(new[] { false, true, false }, s_gpt2.GetSpecialTokensMask([15496, 50256, 995]));
    }

    [Fact]
    public void Text_around_endoftext_is_encoded_on_its_own()
    {
        Assert.Equal(new[] { 15496, 50256, 995 }, s_gpt2.Encode("Hello<|endoftext|> world"));
    }

    [Fact]
    public void Tokens_convert_to_ids_and_back()
    {
        Assert.Equal("Ġworld", s_gpt2.ConvertIdToToken(995));
        Assert.Equal(995, s_gpt2.TokenToId("Ġworld"));
        Assert.Equal(50256, s_gpt2.TokenToId("<|endoftext|>"));
        Assert.Null(s_gpt2.TokenToId("not a token"));
        Assert.Null(s_gpt2.ConvertIdToToken(50257));
    }

    [Fact]
    public void Ids_equal_microsoft_ml_tiktoken_on_the_bundled_corpora()
    {
        var tiktoken = TiktokenTokenizer.CreateForModel("gpt2");
        var lines = TokenizerTestFiles.CorpusLines("wikitext-2-raw/sample/train.txt")
            .Concat(TokenizerTestFiles.CorpusLines("wikitext-2/sample/train.txt"))
            .ToList();
        int total = 0;
        foreach (string line in lines)
        {
            int[] ours = s_gpt2.Encode(line);
            Assert.Equal(tiktoken.EncodeToIds(line), ours);
            total += ours.Length;
        }

        Assert.Equal(3018, lines.Count);
        Assert.True(total > 100_000, $"only {total} tokens");
    }

    [Fact]
    public void Whitespace_runs_and_contractions_split_as_gpt2()
    {
        var tiktoken = TiktokenTokenizer.CreateForModel("gpt2");
        string[] texts =
        [
            "a  b", "a \n b", "  \n\n x", "x   ", "\t\tx", "I'm you'll they're we've he'd she's it't",
            "?'s '' 'S", "1234 56 seven", "hello\u00a0world", "   ", "\n", "foo!!! bar?? (baz)", "Ωmega über café",
        ];
        foreach (string text in texts)
        {
            Assert.Equal(tiktoken.EncodeToIds(text), s_gpt2.Encode(text));
        }
    }

    [Fact]
    public void Decode_returns_the_text_that_was_encoded()
    {
        foreach (string line in TokenizerTestFiles.CorpusLines("wikitext-2-raw/sample/train.txt", 300))
        {
            Assert.Equal(line, s_gpt2.Decode(s_gpt2.Encode(line)));
        }

        Assert.Equal("Hello<|endoftext|> world", s_gpt2.Decode([15496, 50256, 995]));
        Assert.Equal("Hello world", s_gpt2.Decode([15496, 50256, 995], skipSpecialTokens: true));
        Assert.Equal("Hello world", s_gpt2.Decode([15496, 99_999, 995]));
    }

    [Fact]
    public void Decode_of_a_partial_character_gives_the_replacement_character()
    {
        int[] ids = s_gpt2.Encode(" café");
        Assert.Equal(" café", s_gpt2.Decode(ids));
        int[] hug = s_gpt2.Encode("\U0001F917");
        Assert.True(hug.Length > 1);
        Assert.Equal("\U0001F917", s_gpt2.Decode(hug));
        Assert.Equal("\uFFFD", s_gpt2.Decode(hug.Take(hug.Length - 1)));
    }

    [Fact]
    public void Saved_folder_loads_back_with_identical_ids()
    {
        using var folder = TokenizerTestFiles.NewFolder();
        s_gpt2.Save(folder.Path);
        LmTokenizer loaded = LmTokenizer.FromPretrained(folder.Path);

        var lines = TokenizerTestFiles.CorpusLines("wikitext-2/sample/train.txt", 2000)
            .Concat(TokenizerTestFiles.CorpusLines("wikitext-2-raw/sample/train.txt", 2000));
        foreach (string line in lines)
        {
            Assert.Equal(s_gpt2.Encode(line), loaded.Encode(line));
        }

        Assert.Equal("GPT2Tokenizer", loaded.TokenizerClass);
        Assert.Equal(50257, loaded.VocabSize);
        Assert.Equal(1024, loaded.ModelMaxLength);
        Assert.Equal(50256, loaded.EosTokenId);
        Assert.Equal(s_gpt2.AllSpecialIds.Order(), loaded.AllSpecialIds.Order());
        Assert.Equal(s_gpt2.Fingerprint, loaded.Fingerprint);
    }

    [Fact]
    public void Fingerprint_is_a_sha256_that_tells_vocabularies_apart()
    {
        Assert.Matches("^[0-9a-f]{64}$", s_gpt2.Fingerprint);
        Assert.NotEqual(s_gpt2.Fingerprint, LmTokenizer.RobertaFromGpt2().Fingerprint);
    }

    [Fact]
    public void Saved_files_are_hugging_face_gpt2_files()
    {
        using var folder = TokenizerTestFiles.NewFolder();
        s_gpt2.Save(folder.Path);

        string[] merges = File.ReadAllLines(folder.File("merges.txt"));
        Assert.Equal(50_001, merges.Length);
        Assert.Equal(["#version: 0.2", "Ġ t", "Ġ a", "h e", "i n"], merges[..5]);
        Assert.Equal("Ġg azed", merges[^1]);

        var vocab = JsonNode.Parse(File.ReadAllText(folder.File("vocab.json")))!.AsObject();
        Assert.Equal(50257, vocab.Count);
        Assert.Equal(0, (int)vocab["!"]!);
        Assert.Equal(995, (int)vocab["Ġworld"]!);
        Assert.Equal(50256, (int)vocab["<|endoftext|>"]!);

        var config = JsonNode.Parse(File.ReadAllText(folder.File("tokenizer_config.json")))!.AsObject();
        Assert.Equal("GPT2Tokenizer", (string)config["tokenizer_class"]!);
        Assert.Equal(1024, (int)config["model_max_length"]!);
        Assert.Equal("<|endoftext|>", (string)config["bos_token"]!);
        Assert.Equal("<|endoftext|>", (string)config["eos_token"]!);
        Assert.Equal("<|endoftext|>", (string)config["unk_token"]!);
        Assert.False((bool)config["add_prefix_space"]!);
        Assert.True((bool)config["added_tokens_decoder"]!["50256"]!["special"]!);

        var map = JsonNode.Parse(File.ReadAllText(folder.File("special_tokens_map.json")))!.AsObject();
        Assert.Equal(["bos_token", "eos_token", "unk_token"], map.Select(p => p.Key).ToArray());
        Assert.False(File.Exists(folder.File("added_tokens.json")));
        Assert.Empty(Directory.GetFiles(folder.Path, "*.tmp"));
        Assert.Empty(Directory.GetFiles(folder.Path, ".*"));
    }

    [Fact]
    public void Encoding_from_many_threads_gives_the_same_ids()
    {
        var lines = TokenizerTestFiles.CorpusLines("wikitext-2/sample/train.txt", 600);
        int[][] sequential = lines.Select(line => s_gpt2.Encode(line)).ToArray();
        var parallel = new int[lines.Count][];
        Parallel.For(0, lines.Count, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => parallel[i] = s_gpt2.Encode(lines[i]));
        Assert.Equal(sequential, parallel);
    }

    [Fact]
    public void EncodeInto_allocates_nothing_once_the_words_are_cached()
    {
        string[] lines = TokenizerTestFiles.CorpusLines("wikitext-2-raw/sample/train.txt", 200).ToArray();
        var ids = new List<int>(4096);
        for (int pass = 0; pass < 2; pass++)
        {
            foreach (string line in lines)
            {
                ids.Clear();
                s_gpt2.EncodeInto(line, ids);
            }
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        foreach (string line in lines)
        {
            ids.Clear();
            s_gpt2.EncodeInto(line, ids);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void EncodeInto_appends_to_the_list()
    {
        var ids = new List<int> { 7 };
        s_gpt2.EncodeInto(" Hello world".AsSpan(), ids);
        Assert.Equal(new[] { 7, 18435, 995 }, ids);
    }
}
