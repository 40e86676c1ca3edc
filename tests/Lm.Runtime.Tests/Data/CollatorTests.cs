using Lm.Runtime.Data;
using Lm.Runtime.Errors;
using Lm.Runtime.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Data;

public class CollatorTests
{
    private static LmDataset Build(ScratchFolder dir, string text, ITextEncoder encoder, int blockSize, bool lineByLine = false) =>
        TokenCache.GetOrBuild(TextSource.FromFile(dir.File("data.txt", text), keepLinebreaks: !lineByLine), "train", encoder,
            new PreprocessingOptions { BlockSize = blockSize, LineByLine = lineByLine, CacheRoot = dir.Path, Workers = 1 });

    private static string RandomText(int seed, int rows, int maxLength)
    {
        var random = new Random(seed);
        return string.Concat(Enumerable.Range(0, rows).Select(_ =>
            new string(Enumerable.Range(0, random.Next(1, maxLength)).Select(_ => (char)('a' + random.Next(26))).ToArray()) + "\n"));
    }

    private static long[] Values(Tensor t) => t.data<long>().ToArray();

    [Fact]
    public void Causal_collator_stacks_blocks_with_labels_equal_to_inputs()
    {
        using var dir = new ScratchFolder();
        using var dataset = Build(dir, "abcdefghijklmnop\n", new CharEncoder(), 4);
        using var batch = new CausalLmCollator().Collate(dataset, [2, 0]);
        Assert.Equal([2L, 4L], batch.InputIds.shape);
        Assert.Equal(ScalarType.Int64, batch.InputIds.dtype);
        long[] expected = "ijklabcd".Select(c => (long)CharEncoder.Id(c)).ToArray();
        Assert.Equal(expected, Values(batch.InputIds));
        Assert.Equal(expected, Values(batch.Labels));
        Assert.All(Values(batch.AttentionMask), v => Assert.Equal(1L, v));
    }

    [Fact]
    public void Causal_collator_pads_uneven_examples_with_ignored_labels()
    {
        using var dir = new ScratchFolder();
        using var dataset = Build(dir, "abc\nz\n", new CharEncoder(), 8, lineByLine: true);
        using var batch = new CausalLmCollator(CharEncoder.Pad, padToMultipleOf: 4).Collate(dataset, [0, 1]);
        long a = CharEncoder.Id('a'), b = CharEncoder.Id('b'), c = CharEncoder.Id('c'), z = CharEncoder.Id('z');
        Assert.Equal([a, b, c, 0, z, 0, 0, 0], Values(batch.InputIds));
        Assert.Equal([a, b, c, -100, z, -100, -100, -100], Values(batch.Labels));
        Assert.Equal([1L, 1, 1, 0, 1, 0, 0, 0], Values(batch.AttentionMask));
        var e = Assert.Throws<LmException>(() => new CausalLmCollator().Collate(dataset, [0, 1]));
        Assert.Equal(ErrorCodes.TokenizerLacksSpecialToken, e.Code);
    }

    [Fact]
    public void Masking_selects_15_percent_and_replaces_80_10_10()
    {
        using var dir = new ScratchFolder();
        var encoder = new CharEncoder(addSpecialTokens: true);
        using var dataset = Build(dir, RandomText(1, 26_000, 80), encoder, 128);
        Assert.True(dataset.TotalTokens >= 1_000_000, $"{dataset.TotalTokens} tokens");
        using var collator = new MaskingCollator(encoder);

        long eligible = 0, selected = 0, masked = 0, random = 0, unchanged = 0;
        var order = Enumerable.Range(0, dataset.Count).ToArray();
        foreach (int[] indices in order.Chunk(256))
        {
            using var batch = collator.Collate(dataset, indices);
            long[] inputs = Values(batch.InputIds), labels = Values(batch.Labels);
            var original = indices.SelectMany(dataset.GetIds).ToArray();
            for (int k = 0; k < inputs.Length; k++)
            {
                bool special = encoder.SpecialTokenIds.Contains(original[k]);
                if (special)
                {
                    Assert.Equal(-100, labels[k]);
                    Assert.Equal(original[k], inputs[k]);
                    continue;
                }
                eligible++;
                if (labels[k] == -100)
                {
                    Assert.Equal(original[k], inputs[k]);
                    continue;
                }
                Assert.Equal(original[k], labels[k]);
                selected++;
                if (inputs[k] == CharEncoder.Mask) masked++;
                else if (inputs[k] == original[k]) unchanged++;
                else random++;
            }
        }
        Assert.InRange((double)selected / eligible, 0.145, 0.155);
        Assert.InRange((double)masked / selected, 0.795, 0.805);
        Assert.InRange((double)random / selected, 0.095, 0.105);
        Assert.InRange((double)unchanged / selected, 0.095, 0.105);
    }

    [Fact]
    public void Special_and_padding_tokens_are_never_masked()
    {
        using var dir = new ScratchFolder();
        var encoder = new CharEncoder(addSpecialTokens: true);
        using var dataset = Build(dir, RandomText(2, 400, 30), encoder, 32, lineByLine: true);
        using var collator = new MaskingCollator(encoder, new MaskingOptions { MlmProbability = 0.9, PadToMultipleOf = 8 });
        for (int round = 0; round < 5; round++)
        {
            int[] indices = Enumerable.Range(round * 64, 64).ToArray();
            using var batch = collator.Collate(dataset, indices);
            int width = (int)batch.InputIds.shape[1];
            Assert.Equal(0, width % 8);
            long[] inputs = Values(batch.InputIds), labels = Values(batch.Labels), attention = Values(batch.AttentionMask);
            for (int i = 0; i < indices.Length; i++)
            {
                int[] original = dataset.GetIds(indices[i]);
                for (int j = 0; j < width; j++)
                {
                    int k = i * width + j;
                    if (j >= original.Length)
                    {
                        Assert.Equal((long)CharEncoder.Pad, inputs[k]);
                        Assert.Equal(0L, attention[k]);
                        Assert.Equal(-100L, labels[k]);
                    }
                    else if (j == 0 || j == original.Length - 1)
                    {
                        Assert.Equal((long)original[j], inputs[k]);
                        Assert.Equal(-100L, labels[k]);
                    }
                }
            }
        }
    }

    [Fact]
    public void Same_seed_gives_the_same_masks_and_every_new_batch_new_masks()
    {
        using var dir = new ScratchFolder();
        var encoder = new CharEncoder();
        using var dataset = Build(dir, RandomText(3, 300, 60), encoder, 64);
        int[] indices = [0, 1, 2, 3];
        using var first = new MaskingCollator(encoder, new MaskingOptions { Seed = 7 });
        using var second = new MaskingCollator(encoder, new MaskingOptions { Seed = 7 });
        using var other = new MaskingCollator(encoder, new MaskingOptions { Seed = 8 });
        using var epoch1 = first.Collate(dataset, indices);
        using var epoch1Again = second.Collate(dataset, indices);
        using var otherSeed = other.Collate(dataset, indices);
        using var epoch2 = first.Collate(dataset, indices);
        Assert.Equal(Values(epoch1.InputIds), Values(epoch1Again.InputIds));
        Assert.Equal(Values(epoch1.Labels), Values(epoch1Again.Labels));
        Assert.NotEqual(Values(epoch1.Labels), Values(otherSeed.Labels));
        Assert.NotEqual(Values(epoch1.Labels), Values(epoch2.Labels));
    }

    [Fact]
    public void Masking_draws_in_hf_order_from_the_generator()
    {
        using var dir = new ScratchFolder();
        var encoder = new CharEncoder(addSpecialTokens: true);
        using var dataset = Build(dir, RandomText(4, 200, 60), encoder, 16);
        int[] indices = [3, 1, 4];
        using var batch = new MaskingCollator(encoder, new MaskingOptions { Seed = 123 }).Collate(dataset, indices);

        // torch_mask_tokens, step by step, with a generator in the same state.
        using var generator = new Generator(123, CPU);
        var ids = indices.SelectMany(i => dataset.GetIds(i).Select(id => (long)id)).ToArray();
        using var inputs = tensor(ids, [3, 16]);
        using var special = tensor(ids.Select(id => encoder.SpecialTokenIds.Contains((int)id)).ToArray(), [3, 16]);
        using var probability = full([3, 16], 0.15, ScalarType.Float32).masked_fill(special, 0.0);
        using var selected = bernoulli(probability, generator).to_type(ScalarType.Bool);
        using var replaced = bernoulli(full([3, 16], 0.8, ScalarType.Float32), generator).to_type(ScalarType.Bool).logical_and(selected);
        using var random = bernoulli(full([3, 16], 0.5, ScalarType.Float32), generator).to_type(ScalarType.Bool)
            .logical_and(selected).logical_and(replaced.logical_not());
        using var words = randint(encoder.VocabSize, [3, 16], ScalarType.Int64, generator: generator);
        using var expectedInputs = where(random, words, inputs.masked_fill(replaced, CharEncoder.Mask));
        using var expectedLabels = inputs.masked_fill(selected.logical_not(), -100);

        Assert.Equal(Values(expectedInputs), Values(batch.InputIds));
        Assert.Equal(Values(expectedLabels), Values(batch.Labels));
        Assert.Contains(Values(batch.Labels), l => l != -100);
    }

    [Fact]
    public void Masks_equal_what_torch_mask_tokens_draws_in_python_torch()
    {
        // Expected values from HF's DataCollatorForLanguageModeling.torch_mask_tokens run in Python torch 1.13.1 on
        // the same 8 x 16 ids with torch.Generator().manual_seed(1): (position, input id, label) where label != -100.
        (int, long, long)[] expected =
        [
            (4, 42, 42), (28, 1, 128), (33, 1, 114), (34, 1, 111), (50, 1, 42), (68, 1, 127), (69, 356, 119),
            (78, 1, 126), (80, 1, 111), (81, 1, 42), (86, 181, 42), (105, 1, 121), (118, 1, 42), (119, 1, 121),
            (126, 1, 111),
        ];
        using var dir = new ScratchFolder();
        var encoder = new CharEncoder(addSpecialTokens: true);
        using var dataset = Build(dir, string.Concat(Enumerable.Repeat("the quick brown fox jumps over the lazy dog\n", 20)), encoder, 16);
        using var batch = new MaskingCollator(encoder, new MaskingOptions { Seed = 1 }).Collate(dataset, Enumerable.Range(0, 8).ToArray());
        long[] inputs = Values(batch.InputIds), labels = Values(batch.Labels);
        var selected = Enumerable.Range(0, labels.Length).Where(k => labels[k] != -100).Select(k => (k, inputs[k], labels[k])).ToArray();
        Assert.Equal(expected, selected);
    }

    [Fact]
    public void Whole_word_masking_selects_entire_words()
    {
        using var dir = new ScratchFolder();
        var encoder = new WordPieceLikeEncoder();
        using var dataset = Build(dir, string.Concat(Enumerable.Repeat("Alpha Beta Gamma Delta Epsilon Zeta Eta Theta\n", 200)), encoder, 40);
        using var collator = new MaskingCollator(encoder, new MaskingOptions { WholeWordMask = true });
        int[] indices = Enumerable.Range(0, 32).ToArray();
        using var batch = collator.Collate(dataset, indices);
        long[] labels = Values(batch.Labels);
        int anySelected = 0;
        for (int i = 0; i < indices.Length; i++)
        {
            int[] ids = dataset.GetIds(indices[i]);
            bool[] chosen = Enumerable.Range(0, ids.Length).Select(j => labels[i * 40 + j] != -100).ToArray();
            // A continuation token is chosen exactly when the token before it is (inside one word).
            for (int j = 1; j < ids.Length; j++)
            {
                if (encoder.IdToToken(ids[j]).StartsWith("##", StringComparison.Ordinal))
                    Assert.Equal(chosen[j - 1], chosen[j]);
            }
            // HF's budget: at most round(40 * 0.15) = 6 tokens per example.
            Assert.InRange(chosen.Count(c => c), 0, 6);
            anySelected += chosen.Count(c => c);
        }
        Assert.True(anySelected > 32 * 3, $"{anySelected} tokens selected");
    }

    [Fact]
    public void Whole_word_masks_equal_what_hf_draws_in_python_torch()
    {
        // Expected from HF's DataCollatorForWholeWordMask (seeded: randperm per example, then torch_mask_tokens)
        // in Python torch 1.13.1, same 6 x 40 ids, torch.Generator().manual_seed(5): (position, input id, label).
        (int, long, long)[] expected =
        [
            (5, 271, 42), (10, 1, 42), (30, 1, 42), (36, 662, 79), (37, 1, 1126), (38, 1, 1107), (46, 1659, 75),
            (47, 1, 1118), (48, 1, 1122), (49, 1, 1114), (50, 1, 1107), (62, 42, 42), (82, 1, 79), (83, 1, 1126),
            (84, 1, 1107), (97, 1, 42), (102, 1, 42), (108, 1424, 42), (127, 1, 42), (128, 79, 79), (129, 1126, 1126),
            (130, 1, 1107), (131, 42, 42), (143, 1, 42), (173, 1, 42), (177, 1, 42), (190, 394, 76), (191, 1111, 1111),
            (192, 1, 1126), (193, 1, 1107), (201, 1, 78), (202, 1, 1111), (203, 1, 1118), (204, 1, 1126),
            (205, 1107, 1107), (229, 426, 20),
        ];
        using var dir = new ScratchFolder();
        var encoder = new WordPieceLikeEncoder();
        using var dataset = Build(dir, string.Concat(Enumerable.Repeat("Alpha Beta Gamma Delta Epsilon Zeta Eta Theta\n", 200)), encoder, 40);
        using var collator = new MaskingCollator(encoder, new MaskingOptions { WholeWordMask = true, Seed = 5 });
        using var batch = collator.Collate(dataset, Enumerable.Range(0, 6).ToArray());
        long[] inputs = Values(batch.InputIds), labels = Values(batch.Labels);
        var selected = Enumerable.Range(0, labels.Length).Where(k => labels[k] != -100).Select(k => (k, inputs[k], labels[k])).ToArray();
        Assert.Equal(expected, selected);
    }

    [Fact]
    public void Whole_word_batches_have_no_padding_mask_as_hf_returns_none()
    {
        using var dir = new ScratchFolder();
        var encoder = new WordPieceLikeEncoder();
        using var dataset = Build(dir, "Alpha Beta\nGamma\n", encoder, 16, lineByLine: true);
        using var plain = new MaskingCollator(encoder, new MaskingOptions());
        using var wholeWord = new MaskingCollator(encoder, new MaskingOptions { WholeWordMask = true });
        using var padded = plain.Collate(dataset, [0, 1]);
        using var unmasked = wholeWord.Collate(dataset, [0, 1]);
        Assert.Contains(0L, Values(padded.AttentionMask));
        Assert.Equal(padded.InputIds.shape, unmasked.AttentionMask.shape);
        Assert.All(Values(unmasked.AttentionMask), v => Assert.Equal(1L, v));
    }

    [Fact]
    public void Masking_needs_a_mask_token()
    {
        var e = Assert.Throws<LmException>(() => new MaskingCollator(LmTokenizer.Gpt2().AsTextEncoder()));
        Assert.Equal(ErrorCodes.TokenizerLacksSpecialToken, e.Code);
    }

    /// <summary>Characters as WordPiece tokens: a letter after another letter is a <c>##</c> continuation.</summary>
    private sealed class WordPieceLikeEncoder : ITextEncoder
    {
        private readonly CharEncoder _chars = new();

        public void EncodeContent(ReadOnlySpan<char> text, List<int> ids)
        {
            for (int i = 0; i < text.Length; i++)
            {
                bool continues = i > 0 && char.IsLetter(text[i]) && char.IsLetter(text[i - 1]);
                ids.Add(CharEncoder.Id(text[i]) + (continues ? 1000 : 0));
            }
        }

        public IReadOnlyList<int> PrefixIds => [];
        public IReadOnlyList<int> SuffixIds => [];
        public int VocabSize => 2000;
        public int ModelMaxLength => 512;
        public int? PadTokenId => CharEncoder.Pad;
        public int? MaskTokenId => CharEncoder.Mask;
        public IReadOnlyCollection<int> SpecialTokenIds => _chars.SpecialTokenIds;
        public string IdToToken(int id) => id >= 1000 ? "##" + _chars.IdToToken(id - 1000) : _chars.IdToToken(id);
        public string Fingerprint => "wordpiece-like";
    }
}
