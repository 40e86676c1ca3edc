using Lm.Runtime.Data;
using Lm.Runtime.Tokenization;

namespace Lm.Runtime.Tests.Data;

public class LmTokenizerTextEncoderTests
{
    private static readonly string RawTrain = TestData.Corpus("wikitext-2-raw/sample/train.txt");

    private static int[] Encode(ITextEncoder encoder, string text)
    {
        var ids = new List<int>();
        encoder.Encode(text, ids);
        return ids.ToArray();
    }

    [Fact]
    public void Encodes_as_tokenizer_call_with_special_tokens()
    {
        var gpt2 = LmTokenizer.Gpt2().AsTextEncoder();
        var roberta = LmTokenizer.RobertaFromGpt2().AsTextEncoder();
        Assert.Empty(Encode(gpt2, ""));
        Assert.Equal([18435, 995], Encode(gpt2, " Hello world"));
        Assert.Equal([0, 2], Encode(roberta, ""));
        Assert.Equal(LmTokenizer.RobertaFromGpt2().Encode(" Hello world"), Encode(roberta, " Hello world"));
        Assert.Equal(50257, gpt2.VocabSize);
        Assert.Equal(1024, gpt2.ModelMaxLength);
        Assert.Null(gpt2.MaskTokenId);
        Assert.Equal(50264, roberta.MaskTokenId);
        Assert.Equal(1, roberta.PadTokenId);
        Assert.Contains(0, roberta.SpecialTokenIds);
    }

    [Fact]
    public void Truncation_keeps_the_special_tokens()
    {
        var roberta = LmTokenizer.RobertaFromGpt2();
        var ids = new List<int>();
        roberta.AsTextEncoder().EncodeTruncated(" one two three four five six", ids, 5);
        int[] full = roberta.Encode(" one two three four five six");
        Assert.Equal([0, full[1], full[2], full[3], 2], ids);
    }

    [Fact]
    public void Fingerprint_is_stable_and_tells_tokenizers_apart()
    {
        string gpt2 = LmTokenizer.Gpt2().AsTextEncoder().Fingerprint;
        Assert.Equal(gpt2, new LmTokenizerTextEncoder(LmTokenizer.Gpt2()).Fingerprint);
        Assert.NotEqual(gpt2, LmTokenizer.RobertaFromGpt2().AsTextEncoder().Fingerprint);
    }

    [Fact]
    public void Masked_lm_groups_rows_wrapped_in_their_special_tokens()
    {
        using var dir = new ScratchFolder();
        var tokenizer = LmTokenizer.RobertaFromGpt2();
        var args = new DataArguments { TrainFile = RawTrain, MaxSeqLength = 128 };
        using var data = DataPipeline.Prepare(args, tokenizer.AsTextEncoder(), DataObjective.Mlm, validation: false, cacheRoot: dir.Path);

        // run_mlm.py: the text builder without keep_linebreaks (rows lose their "\n"), tokenizer(examples["text"])
        // per row (each row <s> ... </s>), 1000 rows per group_texts call.
        var rows = File.ReadAllText(RawTrain).Split('\n')[..^1].Skip(51).ToList();
        var expected = new List<int[]>();
        foreach (var batch in rows.Chunk(1000))
        {
            int[] all = batch.SelectMany(row => tokenizer.Encode(row)).ToArray();
            for (int start = 0; start + 128 <= all.Length; start += 128) expected.Add(all[start..(start + 128)]);
        }
        Assert.Equal(expected.Count, data.Train!.Count);
        Assert.Equal(expected[0], data.Train.GetIds(0));
        Assert.Equal(expected[^1], data.Train.GetIds(data.Train.Count - 1));
        Assert.Equal(0, data.Train.GetIds(0)[0]);
    }

    [Fact]
    public void Line_by_line_masked_lm_pads_batches_with_the_pad_token()
    {
        using var dir = new ScratchFolder();
        var tokenizer = LmTokenizer.RobertaFromGpt2();
        var encoder = tokenizer.AsTextEncoder();
        var args = new DataArguments { TrainFile = RawTrain, MaxSeqLength = 64, LineByLine = true, PadToMultipleOf = 8 };
        using var data = DataPipeline.Prepare(args, encoder, DataObjective.Mlm, validation: false, cacheRoot: dir.Path);
        using var collator = (MaskingCollator)DataPipeline.CreateCollator(args, DataObjective.Mlm, encoder, data.Options, seed: 42);
        using var batch = collator.Collate(data.Train!, [0, 1, 2, 3]);
        int width = (int)batch.InputIds.shape[1];
        Assert.Equal(0, width % 8);
        Assert.True(width <= 64);
        long[] inputs = batch.InputIds.data<long>().ToArray();
        for (int i = 0; i < 4; i++)
        {
            int length = data.Train!.GetLength(i);
            Assert.True(length <= 64);
            Assert.All(inputs[(i * width + length)..((i + 1) * width)], id => Assert.Equal(1L, id));
        }
    }
}
