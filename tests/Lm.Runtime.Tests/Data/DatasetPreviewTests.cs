using Lm.Runtime.Data;

namespace Lm.Runtime.Tests.Data;

public class DatasetPreviewTests
{
    [Fact]
    public void Random_rows_are_distinct_reproducible_and_carry_their_index()
    {
        using var dir = new ScratchFolder();
        string path = dir.File("t.txt", string.Concat(Enumerable.Range(0, 50).Select(i => $"row {i}\n")));
        var source = TextSource.FromFile(path);
        var picked = DatasetPreview.RandomRows(source, 10, seed: 3);
        Assert.Equal(10, picked.Count);
        Assert.Equal(10, picked.Select(r => r.Index).Distinct().Count());
        Assert.All(picked, r => Assert.Equal($"row {r.Index}\n", r.Text));
        Assert.Equal(picked, DatasetPreview.RandomRows(source, 10, seed: 3));
        Assert.NotEqual(picked.Select(r => r.Index), DatasetPreview.RandomRows(source, 10, seed: 4).Select(r => r.Index));
        Assert.Equal(50, DatasetPreview.RandomRows(source, 500).Count);
    }

    [Fact]
    public void Random_examples_and_stats_describe_the_prepared_splits()
    {
        using var dir = new ScratchFolder();
        string train = dir.File("train.txt", "abcdefgh\nijkl\n");
        string validation = dir.File("validation.txt", "mnop\n");
        var args = new DataArguments { TrainFile = train, ValidationFile = validation, BlockSize = 4, MaxTrainSamples = 1 };
        using var data = DataPipeline.Prepare(args, new CharEncoder(), DataObjective.Clm, cacheRoot: dir.Path);
        Assert.Equal(
            [new SplitStats("train", train, 2, 14, 3, 2, 4, false), new SplitStats("validation", validation, 1, 5, 1, 1, 4, false)],
            data.Stats);
        var examples = DatasetPreview.RandomExamples(data.Train!, 5);
        var example = Assert.Single(examples);
        Assert.Equal("abcd".Select(CharEncoder.Id).ToArray(), example.Ids);
    }
}
