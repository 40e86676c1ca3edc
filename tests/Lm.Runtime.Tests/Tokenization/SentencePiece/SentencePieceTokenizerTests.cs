using System.Text;
using System.Text.Json.Nodes;
using Lm.Runtime.Errors;
using Lm.Runtime.Tests.Tokenization.TokenizerJson;
using Lm.Runtime.Tokenization;

namespace Lm.Runtime.Tests.Tokenization.SentencePiece;

/// <summary>
/// A folder with only a SentencePiece <c>tokenizer.model</c> (Llama 2, TinyLlama, Mistral before tokenizer.json):
/// the model file is written here byte by byte, and the ids must equal those of the tokenizer.json that
/// transformers' LlamaConverter makes of it, written here from the converter's definition and run through Hugging
/// Face's Rust <c>tokenizers</c> (Tokenizers.DotNet).
/// </summary>
public sealed class SentencePieceTokenizerTests
{
    private const int Normal = 1;
    private const int Unknown = 2;
    private const int Control = 3;
    private const int UserDefined = 4;
    private const int ByteType = 6;

    private static readonly string[] s_extraLines =
    [
        "[INST] what is <|user|> doing? [/INST]",
        "<s>[INST]x</s>",
        "<|user|><|user|> <|user|>",
        "the   <0x41> literal byte piece",
        "  leading and trailing  ",
        "\n\nnew\nlines\n",
    ];

    public static TheoryData<string> Variants() =>
        new(["bpe-legacy", "bpe-non-legacy", "bpe-no-prefix-space", "bpe-non-legacy-no-prefix-space", "bpe-missing-bytes",
            "unigram-legacy", "unigram-non-legacy-eos"]);

    [Theory]
    [MemberData(nameof(Variants))]
    public void Ids_and_decoded_text_equal_the_converted_tokenizer_json(string variant)
    {
        bool unigram = variant.StartsWith("unigram", StringComparison.Ordinal);
        bool legacy = !variant.Contains("non-legacy", StringComparison.Ordinal);
        bool addPrefixSpace = !variant.Contains("no-prefix-space", StringComparison.Ordinal);
        bool addEos = variant.EndsWith("-eos", StringComparison.Ordinal);
        List<Piece> pieces = Pieces(unigram, dropFourByteLeads: variant == "bpe-missing-bytes");

        using var folder = TokenizerTestFiles.NewFolder();
        File.WriteAllBytes(folder.File("tokenizer.model"), ModelProto(pieces, modelType: unigram ? 1 : 2));
        var config = new JsonObject { ["tokenizer_class"] = "LlamaTokenizer", ["add_eos_token"] = addEos };
        if (variant.Contains("legacy", StringComparison.Ordinal))
        {
            config["legacy"] = legacy;
        }

        if (!addPrefixSpace)
        {
            config["add_prefix_space"] = false;
        }

        folder.Write("tokenizer_config.json", config.ToJsonString());
        LmTokenizer ours = LmTokenizer.FromPretrained(folder.Path);

        using var expectedFolder = TokenizerTestFiles.NewFolder();
        expectedFolder.Write("tokenizer.json", ConvertedTokenizerJson(pieces, unigram, legacy, addPrefixSpace, addEos).ToJsonString());
        using var oracle = new Tokenizers.DotNet.Tokenizer(expectedFolder.File("tokenizer.json"));

        List<string> failures = TokenizerJsonOracleTests.Differences(ours, oracle, TokenizerJsonVariants.TrickyLines.Concat(s_extraLines));
        Assert.True(failures.Count == 0, $"{variant}: {failures.Count} lines differ:\n" + string.Join("\n", failures));
        Assert.Equal(pieces.Count, ours.VocabSize);
        Assert.Equal(("<s>", 1, "</s>", 2, "<unk>", 0), (ours.BosToken, ours.BosTokenId, ours.EosToken, ours.EosTokenId, ours.UnkToken, ours.UnkTokenId));
        Assert.Null(ours.PadTokenId);
    }

    [Fact]
    public void Merges_fire_and_unknown_bytes_fall_back_to_byte_pieces()
    {
        // Guards the oracle test against a vocabulary where nothing merges, and checks the byte fallback by hand.
        List<Piece> pieces = Pieces(unigram: false, dropFourByteLeads: false);
        using var folder = TokenizerTestFiles.NewFolder();
        File.WriteAllBytes(folder.File("tokenizer.model"), ModelProto(pieces, modelType: 2));
        LmTokenizer tokenizer = LmTokenizer.FromPretrained(folder.Path);

        int[] words = tokenizer.Encode("The quick brown fox jumps over the lazy dog.", addSpecialTokens: false);
        Assert.True(words.Length <= 14, string.Join(" ", words.Select(tokenizer.ConvertIdToToken)));

        // "€" (U+20AC) is no piece: its UTF-8 bytes E2 82 AC become <0xE2> <0x82> <0xAC>, ids 3 + byte.
        int[] euro = tokenizer.Encode("€", addSpecialTokens: false);
        int space = pieces.FindIndex(p => p.Text == "▁");
        Assert.Equal([space, 3 + 0xE2, 3 + 0x82, 3 + 0xAC], euro);
        Assert.Equal("€", tokenizer.Decode(euro));
        Assert.Equal([1, .. euro], tokenizer.Encode("€"));
    }

    [Fact]
    public void Model_type_from_config_json_picks_the_llama_class_and_saving_writes_an_equal_tokenizer_json()
    {
        List<Piece> pieces = Pieces(unigram: false, dropFourByteLeads: false);
        using var folder = TokenizerTestFiles.NewFolder();
        File.WriteAllBytes(folder.File("tokenizer.model"), ModelProto(pieces, modelType: 2));
        folder.Write("config.json", """{"model_type": "mistral"}""");
        LmTokenizer original = LmTokenizer.FromPretrained(folder.Path);
        Assert.Equal("LlamaTokenizer", original.TokenizerClass);

        using var saved = TokenizerTestFiles.NewFolder();
        original.Save(saved.Path);
        Assert.True(File.Exists(saved.File("tokenizer.json")));
        using var oracle = new Tokenizers.DotNet.Tokenizer(saved.File("tokenizer.json"));
        LmTokenizer reloaded = LmTokenizer.FromPretrained(saved.Path);
        foreach (string line in TokenizerJsonVariants.TrickyLines)
        {
            int[] ids = original.Encode(line);
            Assert.Equal(ids, reloaded.Encode(line));
            Assert.Equal(ids, oracle.Encode(line).Select(id => (int)id).ToArray());
        }
    }

    [Fact]
    public void Saving_copies_tokenizer_model_byte_for_byte_as_the_fast_tokenizer_copies_its_vocab_file()
    {
        // LlamaTokenizerFast.save_pretrained writes tokenizer.json and, when it was loaded with a tokenizer.model
        // (can_save_slow_tokenizer), copies that file: from a folder with only tokenizer.model, and from one with both.
        byte[] model = ModelProto(Pieces(unigram: false, dropFourByteLeads: false), modelType: 2);
        using var source = TokenizerTestFiles.NewFolder();
        File.WriteAllBytes(source.File("tokenizer.model"), model);
        LmTokenizer original = LmTokenizer.FromPretrained(source.Path);
        File.Delete(source.File("tokenizer.model")); // the bytes were kept when the tokenizer was read

        using var saved = TokenizerTestFiles.NewFolder();
        original.Save(saved.Path);
        Assert.Equal(model, File.ReadAllBytes(saved.File("tokenizer.model")));
        Assert.Equal(new[] { "special_tokens_map.json", "tokenizer.json", "tokenizer.model", "tokenizer_config.json" },
            Directory.GetFiles(saved.Path).Select(f => Path.GetFileName(f)!).Order(StringComparer.Ordinal).ToArray());

        // Read back from tokenizer.json + tokenizer.model, and saved again: the same bytes once more.
        LmTokenizer reloaded = LmTokenizer.FromPretrained(saved.Path);
        using var again = TokenizerTestFiles.NewFolder();
        reloaded.Save(again.Path);
        Assert.Equal(model, File.ReadAllBytes(again.File("tokenizer.model")));

        // A GPT-2-class tokenizer.json keeps no tokenizer.model, even when one lies beside it.
        using var gpt2 = TokenizerTestFiles.NewFolder();
        File.Copy(saved.File("tokenizer.json"), gpt2.File("tokenizer.json"));
        File.WriteAllBytes(gpt2.File("tokenizer.model"), model);
        gpt2.Write("tokenizer_config.json", """{"tokenizer_class": "GPT2Tokenizer"}""");
        using var gpt2Saved = TokenizerTestFiles.NewFolder();
        LmTokenizer.FromPretrained(gpt2.Path).Save(gpt2Saved.Path);
        Assert.False(File.Exists(gpt2Saved.File("tokenizer.model")));
    }

    [Theory]
    [InlineData(3, "WORD")]
    [InlineData(4, "CHAR")]
    public void Word_and_char_models_are_LM0251(int modelType, string name)
    {
        using var folder = TokenizerTestFiles.NewFolder();
        File.WriteAllBytes(folder.File("tokenizer.model"), ModelProto(Pieces(unigram: false, dropFourByteLeads: false), modelType));
        var error = Assert.Throws<LmException>(() => LmTokenizer.FromPretrained(folder.Path));
        Assert.Equal(ErrorCodes.SentencePieceUnsupported, error.Code);
        Assert.Contains(name, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Another_sentencepiece_class_is_LM0251_naming_it()
    {
        using var folder = TokenizerTestFiles.NewFolder();
        File.WriteAllBytes(folder.File("tokenizer.model"), ModelProto(Pieces(unigram: true, dropFourByteLeads: false), 1));
        folder.Write("tokenizer_config.json", """{"tokenizer_class": "T5Tokenizer"}""");
        var error = Assert.Throws<LmException>(() => LmTokenizer.FromPretrained(folder.Path));
        Assert.Equal(ErrorCodes.SentencePieceUnsupported, error.Code);
        Assert.Contains("T5Tokenizer", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("truncated")]
    [InlineData("huge-length")]
    [InlineData("not-utf8")]
    [InlineData("two-pieces")]
    [InlineData("group-wire-type")]
    public void Damaged_model_file_is_LM0250(string damage)
    {
        byte[] good = ModelProto(Pieces(unigram: false, dropFourByteLeads: false), 2);
        byte[] bytes = damage switch
        {
            "truncated" => good[..(good.Length / 2)],
            "huge-length" => [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x01],
            "not-utf8" => [.. Field(1, [.. Field(1, [0xC3, 0x28]), .. Fixed32(2, 0f)])],
            "two-pieces" => [.. Field(1, PieceBytes(new Piece("<unk>", 0, Unknown))), .. Field(1, PieceBytes(new Piece("<s>", 0, Control)))],
            _ => [0x0B, 0x0C],
        };
        using var folder = TokenizerTestFiles.NewFolder();
        File.WriteAllBytes(folder.File("tokenizer.model"), bytes);
        var error = Assert.Throws<LmException>(() => LmTokenizer.FromPretrained(folder.Path));
        Assert.Equal(ErrorCodes.SentencePieceModelMalformed, error.Code);
        Assert.Equal(folder.File("tokenizer.model"), error.File);
    }

    private sealed record Piece(string Text, float Score, int Type);

    /// <summary>
    /// SentencePiece's layout: &lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;, the 256 byte pieces, the pieces BPE training learned
    /// (highest score first), the single characters, then a control and a user-defined piece.
    /// </summary>
    private static List<Piece> Pieces(bool unigram, bool dropFourByteLeads)
    {
        var pieces = new List<Piece> { new("<unk>", 0, Unknown), new("<s>", 0, Control), new("</s>", 0, Control) };
        foreach (int b in Enumerable.Range(0, 256).Where(b => !(dropFourByteLeads && b is >= 0xF0 and <= 0xF4)))
        {
            pieces.Add(new($"<0x{b:X2}>", 0, ByteType));
        }

        string text = "▁" + TokenizerJsonVariants.Corpus.Replace(' ', '▁');
        var characters = text.EnumerateRunes().Select(r => r.ToString()).Distinct().ToList();
        var words = System.Text.RegularExpressions.Regex.Matches(text, "▁?[^▁]+").Select(m => m.Value.EnumerateRunes().Select(r => r.ToString()).ToList());
        (_, List<(string Left, string Right)> merges) = TokenizerJsonVariants.TrainBpe(characters, words, 250, prefix: null);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        int rank = 0;
        foreach ((string left, string right) in merges)
        {
            string merged = left + right;
            if (seen.Add(merged))
            {
                float score = unigram ? (float)Math.Round(-9.0 + (0.7 * merged.Length) - (0.013 * rank), 3) : -rank;
                pieces.Add(new(merged, score, Normal));
            }

            rank++;
        }

        for (int i = 0; i < characters.Count; i++)
        {
            pieces.Add(new(characters[i], unigram ? -11.5f - (0.01f * i) : -1000 - i, Normal));
        }

        pieces.Add(new("[INST]", 0, Control));
        pieces.Add(new("[/INST]", 0, Control));
        pieces.Add(new("<|user|>", 0, UserDefined));
        return pieces;
    }

    /// <summary>
    /// What transformers' LlamaConverter builds (convert_slow_tokenizer.py), spelled out for the oracle, with the
    /// post-processor LlamaTokenizerFast.update_post_processor installs and the special tokens it adds.
    /// </summary>
    private static JsonObject ConvertedTokenizerJson(List<Piece> pieces, bool unigram, bool legacy, bool addPrefixSpace, bool addEos)
    {
        JsonObject model;
        if (unigram)
        {
            model = new JsonObject
            {
                ["type"] = "Unigram",
                ["unk_id"] = 0,
                ["byte_fallback"] = true,
                ["vocab"] = new JsonArray(pieces.Select((p, id) => (JsonNode)new JsonArray(p.Text, id < 3 ? 0.0 : (double)p.Score)).ToArray()),
            };
        }
        else
        {
            var ids = pieces.Select((p, id) => (p.Text, id)).ToDictionary(p => p.Text, p => p.id);

            // The merges by the older definition, the pair loop of tokenizers' sentencepiece_extractor.py script and
            // of transformers' SentencePieceExtractor before it looped over splits, so that the expectation does not
            // repeat the converter's split loop: every ordered pair of pieces, left then right in id order, whose
            // concatenation is a piece, ranked by that piece's score, highest first, ties in pair order (Python's
            // sort is stable). The old loop's `if piece_score:` dropped score-0 pieces; today's extractor keeps them.
            var pairs = new List<(string Left, string Right, double Score)>();
            for (int left = 0; left < pieces.Count; left++)
            {
                for (int right = 0; right < pieces.Count; right++)
                {
                    if (ids.TryGetValue(pieces[left].Text + pieces[right].Text, out int merged))
                    {
                        pairs.Add((pieces[left].Text, pieces[right].Text, merged < 3 ? 0.0 : pieces[merged].Score));
                    }
                }
            }

            var merges = pairs.OrderByDescending(m => m.Score).Select(m => (JsonNode)(m.Left + " " + m.Right));
            var vocab = new JsonObject();
            foreach ((string text, int id) in ids)
            {
                vocab[text] = id;
            }

            model = new JsonObject
            {
                ["type"] = "BPE",
                ["unk_token"] = "<unk>",
                ["fuse_unk"] = true,
                ["byte_fallback"] = true,
                ["vocab"] = vocab,
                ["merges"] = new JsonArray(merges.ToArray()),
            };
        }

        var added = new JsonArray();
        for (int id = 0; id < pieces.Count; id++)
        {
            if (pieces[id].Type is Unknown or Control or UserDefined)
            {
                added.Add(new JsonObject
                {
                    ["id"] = id,
                    ["content"] = pieces[id].Text,
                    ["single_word"] = false,
                    ["lstrip"] = false,
                    ["rstrip"] = false,
                    ["normalized"] = false,
                    ["special"] = pieces[id].Type != UserDefined,
                });
            }
        }

        JsonNode? normalizer = legacy
            ? new JsonObject
            {
                ["type"] = "Sequence",
                ["normalizers"] = addPrefixSpace
                    ? new JsonArray(new JsonObject { ["type"] = "Prepend", ["prepend"] = "▁" }, Replace(" ", "▁"))
                    : new JsonArray(Replace(" ", "▁")),
            }
            : null;
        JsonNode? preTokenizer = legacy
            ? null
            : new JsonObject { ["type"] = "Metaspace", ["replacement"] = "▁", ["prepend_scheme"] = addPrefixSpace ? "first" : "never", ["split"] = false };
        var decoders = new JsonArray(Replace("▁", " "), new JsonObject { ["type"] = "ByteFallback" }, new JsonObject { ["type"] = "Fuse" });
        if (addPrefixSpace)
        {
            decoders.Add(new JsonObject { ["type"] = "Strip", ["content"] = " ", ["start"] = 1, ["stop"] = 0 });
        }

        JsonObject Special(string token) => new() { ["SpecialToken"] = new JsonObject { ["id"] = token, ["type_id"] = 0 } };
        var single = new JsonArray(Special("<s>"), new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } });
        var specials = new JsonObject { ["<s>"] = new JsonObject { ["id"] = "<s>", ["ids"] = new JsonArray(1), ["tokens"] = new JsonArray("<s>") } };
        if (addEos)
        {
            single.Add(Special("</s>"));
            specials["</s>"] = new JsonObject { ["id"] = "</s>", ["ids"] = new JsonArray(2), ["tokens"] = new JsonArray("</s>") };
        }

        return new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = normalizer,
            ["pre_tokenizer"] = preTokenizer,
            ["post_processor"] = new JsonObject { ["type"] = "TemplateProcessing", ["single"] = single, ["pair"] = single.DeepClone(), ["special_tokens"] = specials },
            ["decoder"] = new JsonObject { ["type"] = "Sequence", ["decoders"] = decoders },
            ["model"] = model,
        };
    }

    private static JsonObject Replace(string pattern, string content) =>
        new() { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = pattern }, ["content"] = content };

    /// <summary>A <c>sentencepiece.ModelProto</c>, with trainer and normalizer fields the reader must skip.</summary>
    private static byte[] ModelProto(List<Piece> pieces, int modelType)
    {
        var bytes = new List<byte>();
        foreach (Piece piece in pieces)
        {
            bytes.AddRange(Field(1, PieceBytes(piece)));
        }

        byte[] trainer =
        [
            .. Field(1, Encoding.UTF8.GetBytes("corpus.txt")), .. Field(2, Encoding.UTF8.GetBytes("tokenizer")), .. Varint(3, (ulong)modelType),
            .. Varint(4, (ulong)pieces.Count), .. Fixed32(10, 0.9995f), .. Varint(35, 1), .. Varint(40, 0), .. Varint(41, 1), .. Varint(42, 2),
            .. Varint(43, ulong.MaxValue), .. Field(45, Encoding.UTF8.GetBytes("<unk>")), .. Fixed64(99),
        ];
        byte[] normalizer = [.. Field(1, Encoding.UTF8.GetBytes("identity")), .. Field(2, []), .. Varint(3, 1), .. Varint(4, 0)];
        bytes.AddRange(Field(2, trainer));
        bytes.AddRange(Field(3, normalizer));
        bytes.AddRange(Field(5, normalizer));
        return bytes.ToArray();
    }

    private static byte[] PieceBytes(Piece piece) =>
        [.. Field(1, Encoding.UTF8.GetBytes(piece.Text)), .. Fixed32(2, piece.Score), .. (piece.Type == Normal ? [] : Varint(3, (ulong)piece.Type))];

    private static byte[] Field(int field, byte[] payload) => [.. Tag(field, 2), .. RawVarint((ulong)payload.Length), .. payload];

    private static byte[] Varint(int field, ulong value) => [.. Tag(field, 0), .. RawVarint(value)];

    private static byte[] Fixed32(int field, float value) => [.. Tag(field, 5), .. BitConverter.GetBytes(value)];

    private static byte[] Fixed64(int field) => [.. Tag(field, 1), .. BitConverter.GetBytes(1.5)];

    private static byte[] Tag(int field, int wire) => RawVarint(((ulong)field << 3) | (uint)wire);

    private static byte[] RawVarint(ulong value)
    {
        var bytes = new List<byte>();
        do
        {
            byte b = (byte)(value & 0x7F);
            value >>= 7;
            bytes.Add(value == 0 ? b : (byte)(b | 0x80));
        }
        while (value != 0);
        return bytes.ToArray();
    }
}
