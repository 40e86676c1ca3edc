using Lm.Runtime.Data;

namespace Lm.Runtime.Tests.Data;

public class BlockGrouperTests
{
    private static (List<int[]> Blocks, long Dropped) Group(int blockSize, bool global, params int[][] batches) =>
        Group(new BlockGrouper(blockSize, global), batches);

    private static (List<int[]> Blocks, long Dropped) Group(BlockGrouper grouper, params int[][] batches)
    {
        var blocks = new List<int[]>();
        foreach (int[] batch in batches) grouper.AddBatch(batch, block => blocks.Add(block.ToArray()));
        grouper.Finish();
        Assert.Equal(blocks.Count, grouper.Blocks);
        return (blocks, grouper.DroppedTokens);
    }

    [Fact]
    public void GroupTexts_drops_the_remainder_of_each_batch()
    {
        var (blocks, dropped) = Group(3, false, [1, 2, 3, 4, 5, 6, 7], [8, 9], [10, 11, 12]);
        Assert.Equal([[1, 2, 3], [4, 5, 6], [10, 11, 12]], blocks);
        Assert.Equal(1 + 2, dropped);
    }

    [Fact]
    public void Global_concatenation_drops_only_the_final_remainder()
    {
        var (blocks, dropped) = Group(3, true, [1, 2, 3, 4, 5, 6, 7], [8, 9], [10, 11, 12, 13]);
        Assert.Equal([[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]], blocks);
        Assert.Equal(1, dropped);
    }

    [Fact]
    public void A_batch_shorter_than_a_block_gives_nothing_and_is_counted_as_dropped()
    {
        var (blocks, dropped) = Group(8, false, [1, 2, 3], []);
        Assert.Empty(blocks);
        Assert.Equal(3, dropped);
    }

    [Fact]
    public void Run_mlm_keeps_a_batch_shorter_than_a_block_as_one_short_block()
    {
        var (blocks, dropped) = Group(new BlockGrouper(4, false, keepShortBatches: true), [1, 2, 3, 4, 5, 6], [7, 8], []);
        Assert.Equal([[1, 2, 3, 4], [7, 8]], blocks);
        Assert.Equal(2, dropped);
    }
}
