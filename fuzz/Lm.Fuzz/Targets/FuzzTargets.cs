using System.Text;
using Lm.Runtime.Checkpoints;
using Lm.Runtime.Data;
using Lm.Runtime.Errors;
using Lm.Runtime.Files;
using Lm.Runtime.Models;
using Lm.Runtime.Tokenization;
using Lm.Runtime.Training;

namespace Lm.Fuzz.Targets;

/// <summary>
/// The fuzz targets: each feeds one input to the parser lm-tune runs on that kind of untrusted file, then uses the
/// result the way the product does (a tokenizer encodes and decodes, a token cache hands out every example). A
/// target returns or throws <see cref="LmException"/> for any input; any other exception, crash or hang is a bug.
/// The afl harness (Program.cs) and the corpus replay test (tests/Lm.Runtime.Tests/Fuzz) both run this file.
/// </summary>
/// <remarks>
/// Parsers that read a folder get their files written to <paramref name="scratch"/>: a target whose format has
/// several files takes one input and splits it at <see cref="FileSeparator"/>, in the order the target names.
/// </remarks>
internal static class FuzzTargets
{
    /// <summary>Separates the files of a multi-file input; text no real tokenizer or cache file holds.</summary>
    public const string FileSeparator = "%%lmfuzz%%";

    /// <summary>A target: one input, a private scratch folder it may rewrite freely.</summary>
    public delegate void Target(byte[] input, string scratch);

    /// <summary>Every target by the name <c>fuzz/run.sh</c> and <c>fuzz/corpus/NAME</c> use.</summary>
    public static IReadOnlyDictionary<string, Target> All { get; } = new Dictionary<string, Target>(StringComparer.Ordinal)
    {
        ["safetensors-header"] = SafeTensorsHeader,
        ["config-json"] = ConfigJson,
        ["bpe-vocab-merges"] = BpeVocabMerges,
        ["wordpiece-vocab"] = WordPieceVocab,
        ["tokenizer-json"] = TokenizerJson,
        ["tokenizer-config"] = TokenizerConfig,
        ["trainer-state"] = TrainerStateJson,
        ["rng-state"] = RngState,
        ["token-cache"] = TokenCacheEntry,
        ["csv"] = (input, scratch) => TextRows(input, scratch, "data.csv"),
        ["json"] = (input, scratch) => TextRows(input, scratch, "data.json"),
        ["jsonl"] = (input, scratch) => TextRows(input, scratch, "data.jsonl"),
    };

    /// <summary>Text every loaded tokenizer encodes: words, spaces, accents, CJK, emoji, control characters and special-token spellings.</summary>
    private const string SampleText =
        "Hello world!  It's a naïve café\tdéjà-vu 東京 🙂 <|endoftext|> <s> </s> <mask> [CLS] [SEP] [MASK] [UNK] ##ing\r\n\u0000\u200b end";

    /// <summary>The safetensors header (length prefix, JSON, offsets) as <see cref="SafeTensorsReader"/> validates it before any tensor is read.</summary>
    private static void SafeTensorsHeader(byte[] input, string scratch)
    {
        using var stream = new MemoryStream(input, writable: false);
        SafeTensorsHeader header = SafeTensorsReader.ReadHeader(stream, "model.safetensors");
        foreach (SafeTensorInfo tensor in header.Tensors)
        {
            // The loader asks each entry for its torch dtype and size before allocating.
            _ = tensor.ScalarType;
            _ = tensor.ElementCount;
            _ = tensor.ByteCount;
        }
    }

    /// <summary>config.json: parsed, validated and written back as a checkpoint save would.</summary>
    private static void ConfigJson(byte[] input, string scratch)
    {
        ModelConfig config = ModelConfig.Parse(ReadText(input), "config.json");
        _ = config.ToJson();
    }

    /// <summary>vocab.json, merges.txt: a byte-level BPE folder (GPT-2, RoBERTa slow files).</summary>
    private static void BpeVocabMerges(byte[] input, string scratch) =>
        LoadTokenizer(scratch, input, "vocab.json", "merges.txt");

    /// <summary>vocab.txt: a BERT WordPiece folder.</summary>
    private static void WordPieceVocab(byte[] input, string scratch) =>
        LoadTokenizer(scratch, input, "vocab.txt");

    /// <summary>tokenizer.json: HF's fast-tokenizer file.</summary>
    private static void TokenizerJson(byte[] input, string scratch) =>
        LoadTokenizer(scratch, input, "tokenizer.json");

    /// <summary>
    /// tokenizer_config.json, special_tokens_map.json, added_tokens.json over a fixed, valid byte-level BPE
    /// vocabulary: special tokens, added tokens and flags as the reader resolves them.
    /// </summary>
    private static void TokenizerConfig(byte[] input, string scratch)
    {
        string folder = PrepareFolder(scratch);
        File.WriteAllText(Path.Combine(folder, "vocab.json"), FixedBpeVocabulary);
        File.WriteAllText(Path.Combine(folder, "merges.txt"), FixedBpeMerges);
        WriteParts(folder, input, "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json");
        UseTokenizer(LmTokenizer.FromPretrained(folder));
    }

    /// <summary>trainer_state.json as a resume reads it, then written back as the next checkpoint would.</summary>
    private static void TrainerStateJson(byte[] input, string scratch)
    {
        string path = Path.Combine(PrepareFolder(scratch), "trainer_state.json");
        File.WriteAllBytes(path, input);
        TrainerState state = TrainerState.Load(path);
        _ = state.ToJson();
    }

    /// <summary>Bytes of libtorch 2.10's CPUGeneratorImplState (what get_rng_state returns; a test checks it).</summary>
    internal const long CpuGeneratorStateBytes = 5056;

    /// <summary>rng_state.json: the generator states a resume hands to libtorch, validated first.</summary>
    private static void RngState(byte[] input, string scratch)
    {
        string path = Path.Combine(PrepareFolder(scratch), "rng_state.json");
        File.WriteAllBytes(path, input);
        var json = JsonFields.Read(path, ErrorCodes.RngStateInvalid);
        _ = Trainer.RandomStateBytes(json, "cpu", CpuGeneratorStateBytes);
        _ = Trainer.RandomStateBytes(json, "collator", CpuGeneratorStateBytes);
    }

    /// <summary>
    /// A token-cache entry: complete.json, offsets.i64 and the token ids (written under both element sizes' names,
    /// the marker picks one); every example of a loaded entry is read, as training does.
    /// </summary>
    private static void TokenCacheEntry(byte[] input, string scratch)
    {
        string folder = PrepareFolder(scratch);
        byte[][] parts = Split(input, 3);
        File.WriteAllBytes(Path.Combine(folder, TokenCache.CompletionMarker), parts[0]);
        File.WriteAllBytes(Path.Combine(folder, "offsets.i64"), parts[1]);
        File.WriteAllBytes(Path.Combine(folder, "tokens.u16"), parts[2]);
        File.WriteAllBytes(Path.Combine(folder, "tokens.i32"), parts[2]);
        using LmDataset? dataset = TokenCache.TryLoad(folder, fromCache: true, vocabSize: null, out _);
        if (dataset is null) return;
        _ = dataset.TotalTokens;
        for (int i = 0; i < dataset.Count; i++) _ = dataset.GetIds(i);
    }

    /// <summary>A data file opened by extension, its columns chosen and every row read, as preprocessing does.</summary>
    private static void TextRows(byte[] input, string scratch, string fileName)
    {
        string path = Path.Combine(PrepareFolder(scratch), fileName);
        File.WriteAllBytes(path, input);
        TextSource source = TextSource.FromFile(path);
        if (source is ColumnFileSource columns) _ = columns.TextColumn;
        foreach (string row in source.ReadRows()) _ = row.Length;
        _ = source.CountRows();
    }

    private static void LoadTokenizer(string scratch, byte[] input, params string[] files)
    {
        string folder = PrepareFolder(scratch);
        WriteParts(folder, input, files);
        UseTokenizer(LmTokenizer.FromPretrained(folder));
    }

    /// <summary>What the data pipeline and generation ask of a tokenizer.</summary>
    private static void UseTokenizer(LmTokenizer tokenizer)
    {
        int[] ids = tokenizer.Encode(SampleText);
        _ = tokenizer.Decode(ids);
        _ = tokenizer.Decode(ids, skipSpecialTokens: true);
        _ = tokenizer.GetSpecialTokensMask(ids);
        _ = tokenizer.Decode([0, 1, 2, tokenizer.VocabSize - 1, tokenizer.VocabSize, -1]);
        _ = tokenizer.Fingerprint;
    }

    /// <summary>Writes the input's parts to the named files; a file with no part is left out, as a missing file.</summary>
    private static void WriteParts(string folder, byte[] input, params string[] files)
    {
        byte[][] parts = Split(input, files.Length);
        for (int i = 0; i < files.Length; i++)
        {
            // An empty last part means "no such file", so inputs can drop optional files.
            if (i > 0 && parts[i].Length == 0) continue;
            File.WriteAllBytes(Path.Combine(folder, files[i]), parts[i]);
        }
    }

    /// <summary>The input cut at the first <paramref name="count"/> − 1 separators; missing parts are empty.</summary>
    internal static byte[][] Split(byte[] input, int count)
    {
        var parts = new byte[count][];
        byte[] separator = Encoding.ASCII.GetBytes(FileSeparator);
        ReadOnlySpan<byte> rest = input;
        for (int i = 0; i < count; i++)
        {
            int at = i == count - 1 ? -1 : rest.IndexOf(separator);
            if (at < 0)
            {
                parts[i] = rest.ToArray();
                rest = [];
            }
            else
            {
                parts[i] = rest[..at].ToArray();
                rest = rest[(at + separator.Length)..];
            }
        }
        return parts;
    }

    /// <summary>An empty folder for this input's files (a previous input's files would change the outcome).</summary>
    private static string PrepareFolder(string scratch)
    {
        string folder = Path.Combine(scratch, "input");
        if (Directory.Exists(folder))
        {
            foreach (string file in Directory.EnumerateFiles(folder)) File.Delete(file);
        }
        else
        {
            Directory.CreateDirectory(folder);
        }
        return folder;
    }

    /// <summary>Bytes as <see cref="File.ReadAllText(string)"/> decodes them (BOM detection, invalid UTF-8 replaced).</summary>
    private static string ReadText(byte[] input)
    {
        using var reader = new StreamReader(new MemoryStream(input, writable: false), Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        return reader.ReadToEnd();
    }

    // A tiny byte-level BPE: the letters of "hello world" with a few merges, <|endoftext|> last.
    private const string FixedBpeVocabulary =
        """{"h": 0, "e": 1, "l": 2, "o": 3, "Ġ": 4, "w": 5, "r": 6, "d": 7, "he": 8, "ll": 9, "hell": 10, "hello": 11, "Ġw": 12, "or": 13, "Ġwor": 14, "<s>": 15, "</s>": 16, "<mask>": 17, "<|endoftext|>": 18}""";

    private const string FixedBpeMerges = "#version: 0.2\nh e\nl l\nhe ll\nhell o\nĠ w\no r\nĠw or\n";
}
