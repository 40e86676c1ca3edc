using Lm.Runtime.Data;
using Lm.Runtime.Tokenization;

namespace Lm.Runtime.Tests.Data;

/// <summary>
/// The tutorial's preprocessing of the bundled WikiText-2 samples with the GPT-2 tokenizer. Expected values are
/// derived here independently of the pipeline, from the HF rules: each row tokenized alone
/// (<c>tokenizer(examples["text"])</c>), rows taken 1000 at a time (<c>map(batched=True)</c>), each batch
/// contributing floor(tokens / block_size) blocks, the first block being the first block_size ids of batch one.
/// </summary>
public class WikitextGpt2PipelineTests
{
    private const int BlockSize = 128;

    private static readonly ITextEncoder Gpt2 = LmTokenizer.Gpt2().AsTextEncoder();

    private static readonly string RawTrain = TestData.Corpus("wikitext-2-raw/sample/train.txt");
    private static readonly string RawValidation = TestData.Corpus("wikitext-2-raw/sample/validation.txt");

    private static List<int[]> ExpectedBlocks(IEnumerable<string> rows, int blockSize, int batchRows = 1000)
    {
        var blocks = new List<int[]>();
        foreach (var batch in rows.Chunk(batchRows))
        {
            int[] concatenated = batch.SelectMany(TiktokenGpt2.Ids).ToArray();
            for (int start = 0; start + blockSize <= concatenated.Length; start += blockSize)
                blocks.Add(concatenated[start..(start + blockSize)]);
        }
        return blocks;
    }

    private static List<string> WikitextRows(string path) =>
        File.ReadAllText(path).Split('\n')[..^1].Select(line => string.IsNullOrWhiteSpace(line) ? "" : line + "\n").ToList();

    [Fact]
    public void Hub_rows_tokenize_as_gpt2_does()
    {
        var rows = new TextFileSource(RawTrain, TextLineRule.Wikitext).ReadRows().Take(2).ToList();
        var ids = rows.Select(row => { var list = new List<int>(); Gpt2.Encode(row, list); return list; }).ToList();
        Assert.Empty(ids[0]);
        Assert.Equal([796, 569, 18354, 7496, 17740, 6711, 796, 220, 198], ids[1]);
    }

    [Fact]
    public void Wikitext_train_sample_blocks_equal_the_hf_pipeline()
    {
        using var dir = new ScratchFolder();
        var source = new TextFileSource(RawTrain, TextLineRule.Wikitext);
        var options = new PreprocessingOptions { BlockSize = BlockSize, CacheRoot = dir.Path, Workers = 2 };
        using var dataset = TokenCache.GetOrBuild(source, "train", Gpt2, options);

        var rows = WikitextRows(RawTrain);
        Assert.Equal(rows, source.ReadRows());
        var expected = ExpectedBlocks(rows, BlockSize);
        Assert.Equal(expected.Count, dataset.Count);
        Assert.Equal(expected[0], dataset.GetIds(0));
        Assert.Equal(expected[^1], dataset.GetIds(dataset.Count - 1));
        // Written down from the derivation above, so a change in it or in the tokenizer shows up here too.
        Assert.Equal(496, dataset.Count);
        Assert.Equal([796, 569, 18354, 7496, 17740, 6711, 796, 220, 198, 2311, 73, 13090, 645, 569, 18354, 7496], dataset.GetIds(0)[..16]);
        long totalTokens = rows.Sum(r => (long)TiktokenGpt2.Ids(r).Count);
        Assert.Equal(totalTokens, dataset.Stats.Tokens);
        Assert.Equal(totalTokens - 496 * BlockSize, dataset.Stats.DroppedTokens);
    }

    [Fact]
    public void Tutorial_num_proc_4_groups_each_contiguous_shard_on_its_own()
    {
        using var dir = new ScratchFolder();
        var source = new TextFileSource(RawTrain, TextLineRule.Wikitext);
        var options = PreprocessingOptions.From(new DataArguments { BlockSize = BlockSize, PreprocessingNumWorkers = 4 }, DataObjective.Clm, 1024)
            with { CacheRoot = dir.Path };
        Assert.Equal(4, options.MapShards);
        using var dataset = TokenCache.GetOrBuild(source, "train", Gpt2, options);

        // datasets.map(num_proc=4): shard i holds rows [i*254 + min(i, 2), ...): 255, 255, 254, 254 rows.
        var rows = WikitextRows(RawTrain);
        var expected = new List<int[]>();
        int start = 0;
        foreach (int size in new[] { 255, 255, 254, 254 })
        {
            expected.AddRange(ExpectedBlocks(rows.Skip(start).Take(size), BlockSize));
            start += size;
        }
        Assert.Equal(expected.Count, dataset.Count);
        Assert.Equal(expected[^1], dataset.GetIds(dataset.Count - 1));
    }

    [Fact]
    public void Train_file_with_percent_split_follows_run_clm()
    {
        using var dir = new ScratchFolder();
        var args = new DataArguments { TrainFile = RawTrain, BlockSize = BlockSize };
        using var data = DataPipeline.Prepare(args, Gpt2, DataObjective.Clm, cacheRoot: dir.Path);

        // The text builder keeps blank lines as " \n"; train[:5%] is the first round(1018 * 5 / 100) = 51 rows.
        var rows = File.ReadAllText(RawTrain).Split('\n')[..^1].Select(line => line + "\n").ToList();
        var expectedValidation = ExpectedBlocks(rows.Take(51), BlockSize);
        var expectedTrain = ExpectedBlocks(rows.Skip(51), BlockSize);
        Assert.Equal(expectedTrain.Count, data.Train!.Count);
        Assert.Equal(expectedValidation.Count, data.Validation!.Count);
        Assert.Equal(expectedTrain[0], data.Train.GetIds(0));
        Assert.Equal(expectedValidation[0], data.Validation.GetIds(0));
        Assert.Equal(967, data.Train.Stats.Rows);
        Assert.Equal(51, data.Validation.Stats.Rows);
        Assert.Equal([220, 198, 796, 569, 18354, 7496, 17740, 6711, 796, 220, 198, 220, 198], data.Validation.GetIds(0)[..13]);
    }

    [Fact]
    public void Max_samples_select_the_first_blocks_after_grouping()
    {
        using var dir = new ScratchFolder();
        var args = new DataArguments { TrainFile = RawTrain, ValidationFile = RawValidation, BlockSize = BlockSize, MaxTrainSamples = 10, MaxEvalSamples = 3 };
        using var data = DataPipeline.Prepare(args, Gpt2, DataObjective.Clm, cacheRoot: dir.Path);
        var rows = File.ReadAllText(RawValidation).Split('\n')[..^1].Select(line => line + "\n");
        var expectedValidation = ExpectedBlocks(rows, BlockSize);
        Assert.Equal(10, data.Train!.Count);
        Assert.Equal(3, data.Validation!.Count);
        Assert.Equal(expectedValidation[2], data.Validation.GetIds(2));
        Assert.Equal(expectedValidation.Count, data.Validation.Stats.Examples);
    }

    [Fact]
    public void Default_block_size_is_the_model_max_length_capped_at_1024()
    {
        var args = new DataArguments();
        Assert.Equal(1024, PreprocessingOptions.From(args, DataObjective.Clm, modelMaxLength: 1024).BlockSize);
        var warnings = new List<string>();
        Assert.Equal(1024, PreprocessingOptions.From(args, DataObjective.Clm, modelMaxLength: 1_000_000_000, warnings: warnings).BlockSize);
        Assert.Single(warnings);
        Assert.Equal(512, PreprocessingOptions.From(args, DataObjective.Clm, modelMaxLength: 1_000_000_000, maxPositionEmbeddings: 512).BlockSize);
        Assert.Equal(1024, PreprocessingOptions.From(new DataArguments { BlockSize = 4096 }, DataObjective.Clm, 1024).BlockSize);
        Assert.Equal(128, PreprocessingOptions.From(new DataArguments { BlockSize = 128 }, DataObjective.Clm, 1024).BlockSize);
        Assert.Equal(512, PreprocessingOptions.From(args, DataObjective.Mlm, modelMaxLength: 512).BlockSize);
        Assert.Equal(1024, PreprocessingOptions.From(args, DataObjective.Mlm, modelMaxLength: 1_000_000_000).BlockSize);
        Assert.Equal(512, PreprocessingOptions.From(new DataArguments { MaxSeqLength = 600 }, DataObjective.Mlm, 512).BlockSize);
        Assert.True(PreprocessingOptions.From(args, DataObjective.Mlm, 512).KeepShortBatches);
        Assert.False(PreprocessingOptions.From(args, DataObjective.Clm, 1024).KeepShortBatches);
        Assert.Equal(1, PreprocessingOptions.From(args, DataObjective.Clm, 1024).MapShards);
    }
}
