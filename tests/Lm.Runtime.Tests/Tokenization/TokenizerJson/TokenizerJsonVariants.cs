using System.Text;
using System.Text.Json.Nodes;

namespace Lm.Runtime.Tests.Tokenization.TokenizerJson;

/// <summary>
/// Small tokenizer.json files in the shapes today's models publish (Llama 3, Qwen2, SmolLM2, Llama 2 / TinyLlama,
/// Mistral, BERT, Unigram) and every split behaviour, with vocabularies and merges learned here from a short corpus
/// so that real merges fire on the test lines.
/// </summary>
internal static class TokenizerJsonVariants
{
    public const string Llama3Pattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    public const string Qwen2Pattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>Lines that differ between careless implementations: every one is encoded and decoded by each variant.</summary>
    public static readonly string[] TrickyLines =
    [
        "Hello world",
        "The quick brown fox jumps over the lazy dog.",
        " = Valkyria Chronicles III = ",
        "The game 's @-@ based on 1 @,@ 000 units @.@ 5 of them",
        " leading space",
        "trailing space ",
        "  two  spaces   three   ",
        "tabs\tinside\t\tand\tout\t",
        "windows\r\nline\r\nbreaks\r\n",
        "unix\nline\n\nbreaks\n",
        "café naïve résumé Ångström",
        "cafe\u0301 nai\u0308ve re\u0301sume\u0301 A\u030Angstro\u0308m",
        "ﬁne ① ＡＢＣ ½ ㌀",
        "emoji 👩‍👩‍👧 family 👍🏽 ok 🇫🇷!",
        "中文字符和日本語のテキスト、한국어 텍스트。",
        "digits 1234567 3.14159 and ٣٤٥ 12,345",
        "I'm you're he'll she'd they've IT'S We'RE 'ſ",
        "math 𝐀𝐁𝐂 and ext-B 𠀀𠀁 letters",
        "ÀÉÎ İstanbul ΣΑΣ straße",
        "a\u00A0b\u3000c\u2028d",
        "x = y + z; // code {brackets} [and] (parens) <tags>",
        "<s>special inside</s> text <unk>",
        "<|begin_of_text|>Hi<|end_of_text|>",
        "<|endoftext|> and <|im_start|>user\nhello<|im_end|>",
        "[INST] do it [/INST] [CLS] [SEP]",
        "the hello world and hellos, <mask> here  <mask>  there",
        "",
        " ",
        "\n",
        "a",
        "   ",
        "hello Hello HELLO world WORLD World été ÉTÉ",
        "helloworld xhello hello_there hello",
        "a  b\t\tc \u00A0 d",
        "Ⓐⓑ 𝟙𝟚 ¼ Ⅻ ß ﬀ ǅ",
        "ｆｕｌｌ　ｗｉｄｔｈ　１２３",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 😀😃😄😁 🏳️‍🌈 👨‍💻",
        "\u0000 control \u0007 chars \u001F and \u200B zero width",
        "'s 'S 'll 'LL 're 've 'd 'm 't don't DON'T",
        "1 12 123 1234 12345 123456 1,000,000 0.5",
        "line one\nline two\r\n\r\nline three\t\n",
        "mixed<s>tokens</s><s></s>",
        "<s> spaced </s>",
        "THE The tHe STRASSE Straße ǅ ǆ Ǆ K k \u212A ABC abc ABc aBC xxx x",
        "CamelCaseWords and 12 123 1234 x12y",
    ];

    internal const string Corpus =
        "The quick brown fox jumps over the lazy dog. Hello world! The game was released in 2011 and the "
        + "world liked it. They've said it's the best: you're right, he'll know, she'd go, we're here, I'm there. "
        + "Valkyria Chronicles III is a tactical role @-@ playing game with 1 @,@ 000 units @.@ The story follows "
        + "the squad. café naïve résumé über straße 中文字符 日本語 テキスト 한국어 텍스트 1234567890 3.14159 "
        + "code = value + other; // comment {brackets} [and] (parens) <tags> hello hello hellos the the the";

    public static IEnumerable<string> Names() =>
    [
        "llama3", "qwen2", "smollm2", "llama2", "mistral-metaspace", "metaspace-always-split", "bert-general",
        "whitespace-suffix", "unigram", "unigram-byte-fallback", "possessive-regex", "normalized-added-tokens",
        "empty-regex-matches", "case-insensitive-regex", "lookaround-regex", "duplicate-merges", "gpt2", "gpt2-duplicate-merges", "prefix-space-per-word", "nfkd-strip-right", "decoder-regex-strip",
        .. Enum.GetNames<Behavior>().SelectMany(b => new[] { $"split-{b}", $"split-{b}-invert", $"punctuation-{b}" }),
    ];

    public static JsonObject Build(string name) => name switch
    {
        "llama3" => ByteLevelBpe(
            Sequence("pretokenizers", Split(Regex(Llama3Pattern), "Isolated"), ByteLevel(false, useRegex: false)),
            normalizer: null,
            postProcessor: Sequence("processors", ByteLevel(false, useRegex: false), Template(["<|begin_of_text|>"], [])),
            added: [("<|begin_of_text|>", true), ("<|end_of_text|>", true)],
            mergesAsPairs: true,
            ignoreMerges: true),
        "qwen2" => ByteLevelBpe(
            Sequence("pretokenizers", Split(Regex(Qwen2Pattern), "Isolated"), ByteLevel(false, useRegex: false)),
            normalizer: new JsonObject { ["type"] = "NFC" },
            postProcessor: ByteLevel(false, useRegex: false),
            added: [("<|endoftext|>", true), ("<|im_start|>", true), ("<|im_end|>", true)],
            mergesAsPairs: false,
            ignoreMerges: false),
        "smollm2" => ByteLevelBpe(
            Sequence("pretokenizers", new JsonObject { ["type"] = "Digits", ["individual_digits"] = true }, ByteLevel(false, useRegex: true)),
            normalizer: null,
            postProcessor: ByteLevel(false, useRegex: false),
            added: [("<|endoftext|>", true), ("<mask>", true), ("hello", false)],
            mergesAsPairs: false,
            ignoreMerges: false),
        "llama2" => SentencePieceBpe(
            normalizer: Sequence("normalizers", new JsonObject { ["type"] = "Prepend", ["prepend"] = "▁" },
                new JsonObject { ["type"] = "Replace", ["pattern"] = Literal(" "), ["content"] = "▁" }),
            preTokenizer: null,
            decoder: Sequence("decoders",
                new JsonObject { ["type"] = "Replace", ["pattern"] = Literal("▁"), ["content"] = " " },
                new JsonObject { ["type"] = "ByteFallback" },
                new JsonObject { ["type"] = "Fuse" },
                new JsonObject { ["type"] = "Strip", ["content"] = " ", ["start"] = 1, ["stop"] = 0 }),
            byteFallback: true),
        "mistral-metaspace" => SentencePieceBpe(
            normalizer: null,
            preTokenizer: new JsonObject { ["type"] = "Metaspace", ["replacement"] = "▁", ["prepend_scheme"] = "first", ["split"] = false },
            decoder: new JsonObject { ["type"] = "Metaspace", ["replacement"] = "▁", ["prepend_scheme"] = "first", ["split"] = false },
            byteFallback: true),
        "metaspace-always-split" => SentencePieceBpe(
            normalizer: new JsonObject { ["type"] = "NFKC" },
            preTokenizer: new JsonObject { ["type"] = "Metaspace", ["replacement"] = "▁", ["prepend_scheme"] = "always", ["split"] = true },
            decoder: new JsonObject { ["type"] = "Metaspace", ["replacement"] = "▁", ["prepend_scheme"] = "always", ["split"] = true },
            byteFallback: false),
        "bert-general" => BertGeneral(),
        "whitespace-suffix" => WhitespaceSuffixBpe(),
        "unigram" => Unigram(byteFallback: false),
        "unigram-byte-fallback" => Unigram(byteFallback: true),
        "possessive-regex" => ByteLevelBpe(
            Sequence("pretokenizers", Split(Regex(@"\p{L}++|\s?+\p{N}{1,2}+|[^\p{L}\p{N}\s]*+|\s++"), "Isolated"), ByteLevel(false, useRegex: false)),
            normalizer: null,
            postProcessor: null,
            added: [],
            mergesAsPairs: true,
            ignoreMerges: false),
        "normalized-added-tokens" => ByteLevelBpe(
            ByteLevel(false, useRegex: true),
            normalizer: Sequence("normalizers", new JsonObject { ["type"] = "Lowercase" }, new JsonObject { ["type"] = "NFD" }),
            postProcessor: null,
            added: [("Hello", false), ("WORLD", false), ("<s>", true), ("ÉTÉ", false)],
            mergesAsPairs: false,
            ignoreMerges: false),
        "empty-regex-matches" => RegexSplit(@"x*|\s*", "Isolated"),
        "case-insensitive-regex" => RegexSplit(@"(?i:the|straße|ǆ|k)|(?i)ab(?-i)c", "Isolated"),
        "lookaround-regex" => RegexSplit(@"(?<=\p{L})(?=\p{Lu})|(?<![\p{N}])\p{N}{2}(?!\p{N})|^\s+|\s+$", "Removed"),
        "duplicate-merges" => WithDuplicateMerges(Build("qwen2")),

        // GPT-2's own shape takes lm-tune's fast byte-level path; the oracle checks that path too.
        "gpt2" => ByteLevelBpe(
            ByteLevel(false, useRegex: true),
            normalizer: null,
            postProcessor: ByteLevel(true, useRegex: true),
            added: [("<|endoftext|>", true)],
            mergesAsPairs: false,
            ignoreMerges: false),
        "gpt2-duplicate-merges" => WithDuplicateMerges(Build("gpt2")),
        "prefix-space-per-word" => ByteLevelBpe(
            Sequence("pretokenizers", new JsonObject { ["type"] = "WhitespaceSplit" }, ByteLevel(true, useRegex: true)),
            normalizer: null,
            postProcessor: ByteLevel(true, useRegex: true),
            added: [("<|endoftext|>", true)],
            mergesAsPairs: false,
            ignoreMerges: false),
        "nfkd-strip-right" => ByteLevelBpe(
            Sequence("pretokenizers", Split(Literal(" "), "MergedWithNext"), ByteLevel(false, useRegex: false)),
            normalizer: Sequence("normalizers", new JsonObject { ["type"] = "NFKD" },
                new JsonObject { ["type"] = "Strip", ["strip_left"] = false, ["strip_right"] = true }),
            postProcessor: null,
            added: [("<s>", true)],
            mergesAsPairs: false,
            ignoreMerges: false),
        "decoder-regex-strip" => WithDecoder(Build("llama2"), Sequence("decoders",
            new JsonObject { ["type"] = "Replace", ["pattern"] = Regex("▁+"), ["content"] = " " },
            new JsonObject { ["type"] = "ByteFallback" },
            new JsonObject { ["type"] = "Strip", ["content"] = " ", ["start"] = 2, ["stop"] = 0 },
            new JsonObject { ["type"] = "Fuse" })),
        _ when name.StartsWith("split-", StringComparison.Ordinal) => ByteLevelBpe(
            Sequence("pretokenizers",
                Split(Regex(@"\p{P}+|\d| "), name.Split('-')[1], invert: name.EndsWith("-invert", StringComparison.Ordinal)),
                ByteLevel(false, useRegex: false)),
            normalizer: null,
            postProcessor: null,
            added: [("<s>", true)],
            mergesAsPairs: false,
            ignoreMerges: false),
        _ when name.StartsWith("punctuation-", StringComparison.Ordinal) => ByteLevelBpe(
            Sequence("pretokenizers",
                new JsonObject { ["type"] = "Punctuation", ["behavior"] = name.Split('-')[1] },
                ByteLevel(true, useRegex: false)),
            normalizer: null,
            postProcessor: null,
            added: [],
            mergesAsPairs: false,
            ignoreMerges: false),
        _ => throw new ArgumentException(name),
    };

    /// <summary>The first merges listed again at the end: tokenizers collects merges into a map, so the last rank wins.</summary>
    private static JsonObject WithDuplicateMerges(JsonObject file)
    {
        JsonArray merges = file["model"]!["merges"]!.AsArray();
        foreach (JsonNode? merge in merges.Take(40).ToList())
        {
            merges.Add(merge!.DeepClone());
        }

        return file;
    }

    private static JsonObject RegexSplit(string pattern, string behavior) => ByteLevelBpe(
        Sequence("pretokenizers", Split(Regex(pattern), behavior), ByteLevel(false, useRegex: false)),
        normalizer: null,
        postProcessor: null,
        added: [],
        mergesAsPairs: false,
        ignoreMerges: false);

    private static JsonObject WithDecoder(JsonObject file, JsonNode decoder)
    {
        file["decoder"] = decoder;
        return file;
    }

    private enum Behavior
    {
        Removed,
        Isolated,
        MergedWithPrevious,
        MergedWithNext,
        Contiguous,
    }

    private static JsonObject ByteLevelBpe(
        JsonNode preTokenizer, JsonNode? normalizer, JsonNode? postProcessor, (string Content, bool Special)[] added, bool mergesAsPairs, bool ignoreMerges)
    {
        var alphabet = Enumerable.Range(0, 256).Select(b => ByteSpelling([(byte)b])).ToList();
        var words = System.Text.RegularExpressions.Regex.Matches(Corpus + " " + string.Join(" ", TrickyLines), @" ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+")
            .Select(m => ByteSpelling(Encoding.UTF8.GetBytes(m.Value)).EnumerateRunes().Select(r => r.ToString()).ToList());
        (Dictionary<string, int> vocab, List<(string, string)> merges) = TrainBpe(alphabet, words, 300, prefix: null);
        JsonObject model = BpeModel(vocab, merges, mergesAsPairs, unk: null, byteFallback: false);
        model["ignore_merges"] = ignoreMerges;
        return File(model, normalizer, preTokenizer, postProcessor, new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = true, ["use_regex"] = true }, Added(vocab, added));
    }

    private static JsonObject SentencePieceBpe(JsonNode? normalizer, JsonNode? preTokenizer, JsonNode decoder, bool byteFallback)
    {
        // SentencePiece's layout: <unk>, <s>, </s>, the 256 byte tokens, then characters and merges.
        var initial = new List<string> { "<unk>", "<s>", "</s>" };
        initial.AddRange(Enumerable.Range(0, 256).Select(b => $"<0x{b:X2}>"));
        string text = "▁" + Corpus.Replace(' ', '▁');

        // Characters rarer than this corpus are left out, so that byte fallback and the unknown token are exercised.
        initial.AddRange(text.EnumerateRunes().Select(r => r.ToString()).Distinct().Where(c => c != "\u3000"));
        var words = System.Text.RegularExpressions.Regex.Matches(text, "▁?[^▁]+").Select(m => m.Value.EnumerateRunes().Select(r => r.ToString()).ToList());
        (Dictionary<string, int> vocab, List<(string, string)> merges) = TrainBpe(initial, words, 250, prefix: null);
        JsonObject model = BpeModel(vocab, merges, mergesAsPairs: false, unk: "<unk>", byteFallback);
        model["fuse_unk"] = byteFallback;
        JsonArray added = Added(vocab, [("<unk>", true), ("<s>", true), ("</s>", true), ("[INST]", true), ("[/INST]", true)]);
        return File(model, normalizer, preTokenizer, Template(["<s>"], []), decoder, added);
    }

    private static JsonObject BertGeneral()
    {
        var initial = new List<string> { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" };
        string lower = Corpus.ToLowerInvariant();
        var characters = lower.EnumerateRunes().Where(r => !Rune.IsWhiteSpace(r)).Select(r => r.ToString()).Distinct().ToList();
        initial.AddRange(characters);
        initial.AddRange(characters.Select(c => "##" + c));
        var words = System.Text.RegularExpressions.Regex.Matches(lower, @"\w+|[^\w\s]")
            .Select(m => m.Value.EnumerateRunes().Select((r, i) => (i == 0 ? "" : "##") + r).ToList());
        (Dictionary<string, int> vocab, _) = TrainBpe(initial, words, 200, prefix: "##");
        var model = new JsonObject
        {
            ["type"] = "WordPiece",
            ["unk_token"] = "[UNK]",
            ["continuing_subword_prefix"] = "##",
            ["max_input_chars_per_word"] = 12,
            ["vocab"] = Vocabulary(vocab),
        };
        var normalizer = Sequence("normalizers",
            new JsonObject { ["type"] = "NFD" }, new JsonObject { ["type"] = "Lowercase" }, new JsonObject { ["type"] = "StripAccents" },
            new JsonObject { ["type"] = "Strip", ["strip_left"] = true, ["strip_right"] = true });
        var preTokenizer = Sequence("pretokenizers",
            new JsonObject { ["type"] = "WhitespaceSplit" }, new JsonObject { ["type"] = "Punctuation", ["behavior"] = "Isolated" },
            new JsonObject { ["type"] = "Digits", ["individual_digits"] = false });
        var post = new JsonObject { ["type"] = "BertProcessing", ["sep"] = new JsonArray("[SEP]", vocab["[SEP]"]), ["cls"] = new JsonArray("[CLS]", vocab["[CLS]"]) };
        var decoder = new JsonObject { ["type"] = "WordPiece", ["prefix"] = "##", ["cleanup"] = true };
        JsonArray added = Added(vocab, [("[PAD]", true), ("[UNK]", true), ("[CLS]", true), ("[SEP]", true), ("[MASK]", true)]);
        return File(model, normalizer, preTokenizer, post, decoder, added);
    }

    private static JsonObject WhitespaceSuffixBpe()
    {
        string normalized = Corpus.ToLowerInvariant();
        var initial = new List<string> { "<unk>", "<s>", "</s>" };
        var words = System.Text.RegularExpressions.Regex.Matches(normalized, @"\w+|[^\w\s]+")
            .Select(m =>
            {
                var runes = m.Value.EnumerateRunes().Select(r => r.ToString()).ToList();
                for (int i = 1; i < runes.Count; i++)
                {
                    runes[i] = "##" + runes[i];
                }

                runes[^1] += "</w>";
                return runes;
            }).ToList();
        initial.AddRange(words.SelectMany(w => w).Distinct());
        (Dictionary<string, int> vocab, List<(string, string)> merges) = TrainBpe(initial, words, 200, prefix: "##");
        JsonObject model = BpeModel(vocab, merges, mergesAsPairs: false, unk: "<unk>", byteFallback: false);
        model["continuing_subword_prefix"] = "##";
        model["end_of_word_suffix"] = "</w>";
        model["fuse_unk"] = false;
        var normalizer = Sequence("normalizers",
            new JsonObject { ["type"] = "NFKC" },
            new JsonObject { ["type"] = "Replace", ["pattern"] = Regex(@"\s+"), ["content"] = " " },
            new JsonObject { ["type"] = "Lowercase" });
        JsonArray added = Added(vocab, [("<unk>", true), ("<s>", true), ("</s>", true)]);
        return File(model, normalizer, new JsonObject { ["type"] = "Whitespace" }, Template(["<s>", "<s>"], ["</s>"]),
            new JsonObject { ["type"] = "BPEDecoder", ["suffix"] = "</w>" }, added);
    }

    private static JsonObject Unigram(bool byteFallback)
    {
        // Pieces: the unknown token, single characters, then the tokens a BPE run learns, scored so that longer
        // pieces are likelier; byte tokens for the fallback.
        string text = "▁" + Corpus.Replace(' ', '▁');
        var initial = text.EnumerateRunes().Select(r => r.ToString()).Distinct().Where(c => c != "ö").ToList();
        var words = System.Text.RegularExpressions.Regex.Matches(text, "▁?[^▁]+").Select(m => m.Value.EnumerateRunes().Select(r => r.ToString()).ToList());
        (Dictionary<string, int> learned, _) = TrainBpe(initial, words, 200, prefix: null);
        var pieces = new JsonArray { new JsonArray("<unk>", 0.0), new JsonArray("<s>", 0.0), new JsonArray("</s>", 0.0) };
        if (byteFallback)
        {
            foreach (int b in Enumerable.Range(0, 256))
            {
                pieces.Add(new JsonArray($"<0x{b:X2}>", 0.0));
            }
        }

        foreach ((string piece, int id) in learned.OrderBy(p => p.Value))
        {
            pieces.Add(new JsonArray(piece, Math.Round(-12.0 + (0.9 * piece.Length) - (id * 0.001), 4)));
        }

        var model = new JsonObject { ["type"] = "Unigram", ["unk_id"] = 0, ["vocab"] = pieces, ["byte_fallback"] = byteFallback };
        var normalizer = Sequence("normalizers",
            new JsonObject { ["type"] = "NFKC" },
            new JsonObject { ["type"] = "Replace", ["pattern"] = Regex(" {2,}"), ["content"] = " " });
        var preTokenizer = new JsonObject { ["type"] = "Metaspace", ["replacement"] = "▁", ["prepend_scheme"] = "always", ["split"] = true };
        JsonNode decoder = byteFallback
            ? Sequence("decoders", new JsonObject { ["type"] = "ByteFallback" }, new JsonObject { ["type"] = "Metaspace", ["replacement"] = "▁", ["prepend_scheme"] = "always" })
            : new JsonObject { ["type"] = "Metaspace", ["replacement"] = "▁", ["prepend_scheme"] = "always" };
        var added = new JsonArray(
            AddedToken(0, "<unk>", true), AddedToken(1, "<s>", true), AddedToken(2, "</s>", true));
        return File(model, normalizer, preTokenizer, Template([], ["</s>"]), decoder, added, idOf: t => t == "</s>" ? 2 : null);
    }

    /// <summary>BPE training in miniature: merge the most frequent adjacent pair (ties: the ordinal-first pair), repeatedly.</summary>
    internal static (Dictionary<string, int> Vocabulary, List<(string, string)> Merges) TrainBpe(
        IEnumerable<string> initialTokens, IEnumerable<List<string>> words, int mergeCount, string? prefix)
    {
        var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string token in initialTokens)
        {
            vocabulary.TryAdd(token, vocabulary.Count);
        }

        var wordList = words.Select(w => w.ToList()).ToList();
        foreach (string symbol in wordList.SelectMany(w => w))
        {
            vocabulary.TryAdd(symbol, vocabulary.Count);
        }

        var merges = new List<(string, string)>();
        for (int round = 0; round < mergeCount; round++)
        {
            var counts = new Dictionary<(string, string), int>();
            foreach (List<string> word in wordList)
            {
                for (int i = 0; i + 1 < word.Count; i++)
                {
                    counts[(word[i], word[i + 1])] = counts.GetValueOrDefault((word[i], word[i + 1])) + 1;
                }
            }

            if (counts.Count == 0)
            {
                break;
            }

            (string left, string right) = counts.OrderByDescending(c => c.Value)
                .ThenBy(c => c.Key.Item1 + " " + c.Key.Item2, StringComparer.Ordinal).First().Key;
            string merged = left + (prefix is not null && right.StartsWith(prefix, StringComparison.Ordinal) ? right[prefix.Length..] : right);
            merges.Add((left, right));
            vocabulary.TryAdd(merged, vocabulary.Count);
            foreach (List<string> word in wordList)
            {
                for (int i = 0; i + 1 < word.Count; i++)
                {
                    if (word[i] == left && word[i + 1] == right)
                    {
                        word[i] = merged;
                        word.RemoveAt(i + 1);
                    }
                }
            }
        }

        return (vocabulary, merges);
    }

    private static string ByteSpelling(byte[] bytes)
    {
        // GPT-2's bytes_to_unicode.
        var printable = Enumerable.Range('!', '~' - '!' + 1).Concat(Enumerable.Range('¡', '¬' - '¡' + 1)).Concat(Enumerable.Range('®', 'ÿ' - '®' + 1)).ToHashSet();
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            map[b] = printable.Contains(b) ? (char)b : (char)next++;
        }

        return new string(bytes.Select(b => map[b]).ToArray());
    }

    private static JsonObject BpeModel(Dictionary<string, int> vocab, List<(string, string)> merges, bool mergesAsPairs, string? unk, bool byteFallback) => new()
    {
        ["type"] = "BPE",
        ["dropout"] = null,
        ["unk_token"] = unk,
        ["continuing_subword_prefix"] = null,
        ["end_of_word_suffix"] = null,
        ["fuse_unk"] = false,
        ["byte_fallback"] = byteFallback,
        ["vocab"] = Vocabulary(vocab),
        ["merges"] = new JsonArray(merges.Select(m => mergesAsPairs ? (JsonNode)new JsonArray(m.Item1, m.Item2) : JsonValue.Create(m.Item1 + " " + m.Item2)!).ToArray()),
    };

    private static JsonObject Vocabulary(Dictionary<string, int> vocab)
    {
        var json = new JsonObject();
        foreach ((string token, int id) in vocab.OrderBy(p => p.Value))
        {
            json[token] = id;
        }

        return json;
    }

    private static JsonArray Added(Dictionary<string, int> vocab, (string Content, bool Special)[] tokens)
    {
        var added = new JsonArray();
        int next = vocab.Count;
        foreach ((string content, bool special) in tokens)
        {
            int id = vocab.TryGetValue(content, out int known) ? known : next++;
            vocab[content] = id;
            JsonObject token = AddedToken(id, content, special);
            if (content == "<mask>")
            {
                token["lstrip"] = true;
            }
            else if (content == "hello")
            {
                token["single_word"] = true;
                token["rstrip"] = true;
            }

            added.Add(token);
        }

        return added;
    }

    private static JsonObject AddedToken(int id, string content, bool special) => new()
    {
        ["id"] = id,
        ["content"] = content,
        ["single_word"] = false,
        ["lstrip"] = false,
        ["rstrip"] = false,
        ["normalized"] = !special,
        ["special"] = special,
    };

    private static JsonObject File(
        JsonObject model, JsonNode? normalizer, JsonNode? preTokenizer, JsonNode? postProcessor, JsonNode? decoder, JsonArray added,
        Func<string, int?>? idOf = null)
    {
        if (postProcessor?["type"]?.GetValue<string>() == "TemplateProcessing" || postProcessor?["processors"] is JsonArray)
        {
            FillTemplateIds(postProcessor!, token => idOf?.Invoke(token) ?? added.First(a => a!["content"]!.GetValue<string>() == token)!["id"]!.GetValue<int>());
        }

        return new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = normalizer,
            ["pre_tokenizer"] = preTokenizer,
            ["post_processor"] = postProcessor,
            ["decoder"] = decoder,
            ["model"] = model,
        };
    }

    private static void FillTemplateIds(JsonNode processor, Func<string, int> idOf)
    {
        foreach (JsonNode? step in processor["processors"] as IEnumerable<JsonNode?> ?? new[] { processor })
        {
            if (step?["special_tokens"] is JsonObject specials)
            {
                foreach ((string key, JsonNode? special) in specials)
                {
                    special!["ids"] = new JsonArray(special["tokens"]!.AsArray().Select(t => (JsonNode)idOf(t!.GetValue<string>())).ToArray());
                }
            }
        }
    }

    private static JsonObject Template(string[] before, string[] after)
    {
        static JsonObject Special(string id, int typeId) => new() { ["SpecialToken"] = new JsonObject { ["id"] = id, ["type_id"] = typeId } };
        var single = new JsonArray();
        foreach (string token in before)
        {
            single.Add(Special(token, 0));
        }

        single.Add(new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } });
        foreach (string token in after)
        {
            single.Add(Special(token, 0));
        }

        var specials = new JsonObject();
        foreach (string token in before.Concat(after).Distinct())
        {
            specials[token] = new JsonObject { ["id"] = token, ["ids"] = new JsonArray(), ["tokens"] = new JsonArray(token) };
        }

        return new JsonObject
        {
            ["type"] = "TemplateProcessing",
            ["single"] = single,
            ["pair"] = single.DeepClone(),
            ["special_tokens"] = specials,
        };
    }

    private static JsonObject Sequence(string key, params JsonNode[] steps) => new() { ["type"] = "Sequence", [key] = new JsonArray(steps) };

    private static JsonObject Split(JsonObject pattern, string behavior, bool invert = false) =>
        new() { ["type"] = "Split", ["pattern"] = pattern, ["behavior"] = behavior, ["invert"] = invert };

    private static JsonObject ByteLevel(bool addPrefixSpace, bool useRegex) =>
        new() { ["type"] = "ByteLevel", ["add_prefix_space"] = addPrefixSpace, ["trim_offsets"] = true, ["use_regex"] = useRegex };

    private static JsonObject Regex(string pattern) => new() { ["Regex"] = pattern };

    private static JsonObject Literal(string text) => new() { ["String"] = text };
}
