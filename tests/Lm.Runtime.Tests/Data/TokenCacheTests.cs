using Lm.Runtime.Data;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Tests.Data;

public class TokenCacheTests
{
    private static PreprocessingOptions Options(string cacheRoot, int blockSize = 4, int groupBatchSize = 3, int workers = 1) => new()
    {
        BlockSize = blockSize,
        GroupBatchSize = groupBatchSize,
        Workers = workers,
        CacheRoot = cacheRoot,
    };

    private static List<int[]> All(LmDataset dataset) => Enumerable.Range(0, dataset.Count).Select(dataset.GetIds).ToList();

    private static void AssertSameExamples(LmDataset expected, LmDataset actual)
    {
        Assert.Equal(All(expected), All(actual));
        Assert.Equal(expected.Stats, actual.Stats);
    }

    [Fact]
    public void Blocks_follow_group_texts_per_map_batch()
    {
        using var dir = new ScratchFolder();
        // Rows (with "\n"): "abcde\n"=6, "fg\n"=3, "h\n"=2 | "ijklmnop\n"=9 -> batch 1: 11 tokens, batch 2: 9 tokens.
        string path = dir.File("t.txt", "abcde\nfg\nh\nijklmnop\n");
        using var dataset = TokenCache.GetOrBuild(TextSource.FromFile(path), "train", new CharEncoder(), Options(dir.Path));
        int[] Ids(string s) => s.Select(CharEncoder.Id).ToArray();
        Assert.Equal([Ids("abcd"), Ids("e\nfg"), Ids("ijkl"), Ids("mnop")], All(dataset));
        Assert.Equal(new SplitStats("train", path, 4, 20, 4, 3 + 1, 4, false), dataset.Stats);
    }

    [Theory]
    [InlineData(36718, 4, new long[] { 9180, 18360, 27539, 36718 })]
    [InlineData(10, 3, new long[] { 4, 7, 10 })]
    [InlineData(2, 4, new long[] { 1, 2 })]
    public void Map_shards_have_the_sizes_of_contiguous_dataset_shards(long rows, int shards, long[] ends) =>
        Assert.Equal(ends, ParallelBatchEncoder.ShardEnds(rows, shards));

    [Fact]
    public void Map_shards_restart_the_map_batches_as_num_proc_does()
    {
        using var dir = new ScratchFolder();
        // 6 rows of 2 tokens; batches of 2 rows; 2 shards of 3 rows -> batches [r0 r1] [r2] | [r3 r4] [r5].
        string path = dir.File("t.txt", "a\nb\nc\nd\ne\nf\n");
        var options = Options(dir.Path, blockSize: 4, groupBatchSize: 2) with { MapShards = 2, Workers = 2 };
        using var dataset = TokenCache.GetOrBuild(TextSource.FromFile(path), "train", new CharEncoder(), options);
        int[] Ids(string s) => s.Select(CharEncoder.Id).ToArray();
        Assert.Equal([Ids("a\nb\n"), Ids("d\ne\n")], All(dataset));
        Assert.Equal(4, dataset.Stats.DroppedTokens);
        using var unsharded = TokenCache.GetOrBuild(TextSource.FromFile(path), "train", new CharEncoder(), options with { MapShards = 1 });
        Assert.Equal([Ids("a\nb\n"), Ids("c\nd\n"), Ids("e\nf\n")], All(unsharded));
    }

    [Fact]
    public void Second_build_is_a_cache_hit_with_the_same_examples()
    {
        using var dir = new ScratchFolder();
        string path = dir.File("t.txt", "hello world\nsecond line\nthird\n");
        var options = Options(dir.Path);
        using var first = TokenCache.GetOrBuild(TextSource.FromFile(path), "train", new CharEncoder(), options);
        using var second = TokenCache.GetOrBuild(TextSource.FromFile(path), "train", new CharEncoder(), options);
        Assert.False(first.FromCache);
        Assert.True(second.FromCache);
        Assert.Equal(first.CacheFolder, second.CacheFolder);
        AssertSameExamples(first, second);
    }

    [Fact]
    public void A_copy_of_the_data_elsewhere_hits_and_reports_its_own_path()
    {
        using var dir = new ScratchFolder();
        string path = dir.File("t.txt", "hello world\n");
        string copy = dir.File("copy/t.txt", "hello world\n");
        var options = Options(dir.Path);
        using var first = TokenCache.GetOrBuild(TextSource.FromFile(path), "train", new CharEncoder(), options);
        using var second = TokenCache.GetOrBuild(TextSource.FromFile(copy), "validation", new CharEncoder(), options);
        Assert.True(second.FromCache);
        Assert.Equal(copy, second.Stats.Source);
        Assert.Equal("validation", second.Stats.Split);
    }

    [Fact]
    public void Changing_one_byte_of_the_data_misses()
    {
        using var dir = new ScratchFolder();
        string path = dir.File("t.txt", "hello world\nsecond line\n");
        var options = Options(dir.Path);
        using var first = TokenCache.GetOrBuild(TextSource.FromFile(path), "train", new CharEncoder(), options);
        File.WriteAllText(path, "hello World\nsecond line\n");
        using var second = TokenCache.GetOrBuild(TextSource.FromFile(path), "train", new CharEncoder(), options);
        Assert.False(second.FromCache);
        Assert.NotEqual(first.CacheFolder, second.CacheFolder);
        Assert.Equal(CharEncoder.Id('W'), second.GetIds(1)[2]);
    }

    [Fact]
    public void Changing_block_size_grouping_or_tokenizer_misses()
    {
        using var dir = new ScratchFolder();
        string path = dir.File("t.txt", "hello world\nsecond line\nthird line\n");
        var source = TextSource.FromFile(path);
        var options = Options(dir.Path);
        using var baseline = TokenCache.GetOrBuild(source, "train", new CharEncoder(), options);
        using var otherBlock = TokenCache.GetOrBuild(source, "train", new CharEncoder(), options with { BlockSize = 5 });
        using var otherBatch = TokenCache.GetOrBuild(source, "train", new CharEncoder(), options with { GroupBatchSize = 2 });
        using var global = TokenCache.GetOrBuild(source, "train", new CharEncoder(), options with { GlobalConcatenation = true });
        using var otherTokenizer = TokenCache.GetOrBuild(source, "train", new CharEncoder(salt: "v2"), options);
        using var moreWorkers = TokenCache.GetOrBuild(source, "train", new CharEncoder(), options with { Workers = 2 });
        Assert.All(new[] { otherBlock, otherBatch, global, otherTokenizer }, d => Assert.False(d.FromCache));
        Assert.Equal(8, baseline.Count); // 12 + 12 + 11 tokens in one batch of 3 rows -> 35 / 4
        Assert.Equal(7, otherBlock.Count);
        Assert.True(moreWorkers.FromCache); // the thread count does not change the output
    }

    [Fact]
    public void Overwrite_cache_rebuilds_a_valid_entry()
    {
        using var dir = new ScratchFolder();
        string path = dir.File("t.txt", "hello world\n");
        var options = Options(dir.Path);
        using (TokenCache.GetOrBuild(TextSource.FromFile(path), "train", new CharEncoder(), options)) { }
        using var rebuilt = TokenCache.GetOrBuild(TextSource.FromFile(path), "train", new CharEncoder(), options with { OverwriteCache = true });
        Assert.False(rebuilt.FromCache);
        Assert.Equal(3, rebuilt.Count);
    }

    [Fact]
    public void An_entry_without_its_completion_marker_is_ignored_and_rebuilt()
    {
        using var dir = new ScratchFolder();
        string path = dir.File("t.txt", "hello world\nsecond line\n");
        var options = Options(dir.Path);
        string folder;
        using (var first = TokenCache.GetOrBuild(TextSource.FromFile(path), "train", new CharEncoder(), options))
            folder = first.CacheFolder;
        // A crash between writing the tokens and the marker: the folder exists, the marker does not.
        File.Delete(Path.Combine(folder, TokenCache.CompletionMarker));
        using var second = TokenCache.GetOrBuild(TextSource.FromFile(path), "train", new CharEncoder(), options);
        Assert.False(second.FromCache);
        Assert.True(File.Exists(Path.Combine(folder, TokenCache.CompletionMarker)));
        using var third = TokenCache.GetOrBuild(TextSource.FromFile(path), "train", new CharEncoder(), options);
        Assert.True(third.FromCache);
    }

    [Fact]
    public void Half_written_folders_of_dead_processes_are_ignored_and_removed()
    {
        using var dir = new ScratchFolder();
        string path = dir.File("t.txt", "hello world\n");
        var options = Options(dir.Path);
        string folder = TokenCache.EntryFolder(TokenCache.Fingerprint(TextSource.FromFile(path), new CharEncoder(), options), options);
        // A writer killed mid-write: its partial folder holds tokens but no marker. Pid int.MaxValue runs nowhere.
        string abandoned = $"{folder}.partial-{int.MaxValue}-0123";
        Directory.CreateDirectory(abandoned);
        File.WriteAllBytes(Path.Combine(abandoned, "tokens.u16"), new byte[6]);
        using var dataset = TokenCache.GetOrBuild(TextSource.FromFile(path), "train", new CharEncoder(), options);
        Assert.False(dataset.FromCache);
        Assert.Equal("hell".Select(CharEncoder.Id).ToArray(), dataset.GetIds(0));
        Assert.False(Directory.Exists(abandoned));
    }

    [Fact]
    public void A_truncated_tokens_file_is_not_trusted()
    {
        using var dir = new ScratchFolder();
        string path = dir.File("t.txt", "hello world\nsecond line\n");
        var options = Options(dir.Path);
        string folder;
        using (var first = TokenCache.GetOrBuild(TextSource.FromFile(path), "train", new CharEncoder(), options))
            folder = first.CacheFolder;
        string tokens = Directory.GetFiles(folder, "tokens.*").Single();
        using (var stream = new FileStream(tokens, FileMode.Open)) stream.SetLength(stream.Length - 2);
        using var second = TokenCache.GetOrBuild(TextSource.FromFile(path), "train", new CharEncoder(), options);
        Assert.False(second.FromCache);
        Assert.Equal(6, second.Count);
    }

    /// <summary>Builds an entry, damages it with <paramref name="damage"/>, reads it again: rebuilt, with a warning, same examples.</summary>
    private static void AssertDamageIsRebuilt(Action<string> damage, string expectedReason)
    {
        using var dir = new ScratchFolder();
        string path = dir.File("t.txt", "hello world\nsecond line\nthird line here\n");
        var options = Options(dir.Path);
        List<int[]> clean;
        string folder;
        using (var first = TokenCache.GetOrBuild(TextSource.FromFile(path), "train", new CharEncoder(), options))
        {
            clean = All(first);
            folder = first.CacheFolder;
        }
        damage(folder);
        var log = new List<string>();
        using var second = TokenCache.GetOrBuild(TextSource.FromFile(path), "train", new CharEncoder(), options, log.Add);
        Assert.False(second.FromCache);
        Assert.Equal(clean, All(second));
        string warning = Assert.Single(log, line => line.StartsWith("warning", StringComparison.Ordinal));
        Assert.Contains(ErrorCodes.TokenCacheEntryCorrupt, warning);
        Assert.Contains(expectedReason, warning);
        using var third = TokenCache.GetOrBuild(TextSource.FromFile(path), "train", new CharEncoder(), options);
        Assert.True(third.FromCache);
    }

    private static void WriteOffset(string folder, int index, long value)
    {
        using var stream = new FileStream(Path.Combine(folder, "offsets.i64"), FileMode.Open);
        stream.Position = index * sizeof(long);
        stream.Write(BitConverter.GetBytes(value));
    }

    [Fact]
    public void An_interior_offset_past_the_tokens_is_rebuilt_with_a_warning() =>
        AssertDamageIsRebuilt(folder => WriteOffset(folder, 2, long.MaxValue / 4), "example 1 has length");

    [Fact]
    public void Offsets_that_go_back_are_rebuilt_with_a_warning() =>
        AssertDamageIsRebuilt(folder => WriteOffset(folder, 3, 1), "example 2 has length");

    [Fact]
    public void A_token_id_outside_the_vocabulary_is_rebuilt_with_a_warning() =>
        AssertDamageIsRebuilt(folder =>
        {
            using var stream = new FileStream(Directory.GetFiles(folder, "tokens.*").Single(), FileMode.Open);
            stream.Position = 6;
            stream.Write(BitConverter.GetBytes((ushort)60000));
        }, "holds id 60000");

    [Fact]
    public void A_completion_marker_that_is_not_json_is_rebuilt_with_a_warning() =>
        AssertDamageIsRebuilt(folder => File.WriteAllText(Path.Combine(folder, TokenCache.CompletionMarker), "{\"format\": 1,"), "unreadable");

    [Fact]
    public void Parallel_tokenization_gives_the_same_blocks_in_the_same_order()
    {
        using var dir = new ScratchFolder();
        var random = new Random(7);
        string text = string.Concat(Enumerable.Range(0, 5000).Select(i => new string((char)('a' + random.Next(26)), random.Next(0, 40)) + "\n"));
        string path = dir.File("t.txt", text);
        using var serial = TokenCache.GetOrBuild(TextSource.FromFile(path), "train", new CharEncoder(), Options(Path.Combine(dir.Path, "a"), 16, 100, workers: 1));
        using var parallel = TokenCache.GetOrBuild(TextSource.FromFile(path), "train", new CharEncoder(), Options(Path.Combine(dir.Path, "b"), 16, 100, workers: 4));
        Assert.False(parallel.FromCache);
        AssertSameExamples(serial, parallel);
    }

    [Fact]
    public void A_read_error_late_in_the_file_stops_parallel_tokenization_with_that_error()
    {
        using var dir = new ScratchFolder();
        byte[] good = System.Text.Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("some words here\n", 20_000)));
        string path = dir.Bytes("t.txt", [.. good, 0xFF, (byte)'\n']);
        var options = Options(dir.Path, 16, 100, workers: 3);
        var e = Assert.Throws<LmException>(() => TokenCache.GetOrBuild(TextSource.FromFile(path), "train", new CharEncoder(), options));
        Assert.Equal(ErrorCodes.InvalidUtf8, e.Code);
        Assert.Equal(good.Length, e.Offset);
        Assert.Empty(Directory.GetDirectories(Path.Combine(dir.Path, "datasets")));
    }

    [Fact]
    public void A_tokenizer_failure_in_a_worker_reaches_the_caller()
    {
        using var dir = new ScratchFolder();
        string path = dir.File("t.txt", string.Concat(Enumerable.Range(0, 5000).Select(i => i == 4321 ? "boom\n" : "fine\n")));
        var e = Assert.Throws<InvalidOperationException>(() =>
            TokenCache.GetOrBuild(TextSource.FromFile(path), "train", new FailingEncoder("boom"), Options(dir.Path, 4, 100, workers: 2)));
        Assert.Contains("boom", e.Message);
    }

    [Fact]
    public void Builders_racing_for_one_entry_all_get_it_and_leave_one_folder()
    {
        // Four builders that all missed the cache (each waits in its first encode until all four are tokenizing)
        // publish the same entry: one rename wins, the others find a complete entry in its place and use that.
        using var dir = new ScratchFolder();
        string path = dir.File("t.txt", "hello world\nsecond line\nthird\n");
        var options = Options(dir.Path);
        const int builders = 4;
        using var rendezvous = new Barrier(builders);
        var datasets = new LmDataset?[builders];
        var failures = new Exception?[builders];
        var threads = Enumerable.Range(0, builders).Select(i => new Thread(() =>
        {
            try { datasets[i] = TokenCache.GetOrBuild(TextSource.FromFile(path), "train", new RendezvousEncoder(rendezvous), options); }
            catch (Exception e) { failures[i] = e; }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        try
        {
            Assert.All(failures, e => Assert.Null(e));
            // 12 + 12 + 6 characters in one map batch of 3 rows: 7 blocks of 4, the last 2 characters dropped.
            string[] expected = ["hell", "o wo", "rld\n", "seco", "nd l", "ine\n", "thir"];
            foreach (var dataset in datasets)
            {
                Assert.False(dataset!.FromCache); // every builder tokenized: the race took place
                Assert.Equal(expected.Select(b => b.Select(CharEncoder.Id).ToArray()), All(dataset));
            }
            string entry = Assert.Single(datasets.Select(d => d!.CacheFolder).Distinct())!;
            Assert.Equal([entry], Directory.GetDirectories(Path.GetDirectoryName(entry)!)); // no .partial- or .stale- left
            using var again = TokenCache.GetOrBuild(TextSource.FromFile(path), "train", new CharEncoder(), options);
            Assert.True(again.FromCache);
        }
        finally
        {
            foreach (var dataset in datasets) dataset?.Dispose();
        }
    }

    /// <summary>A <see cref="CharEncoder"/> whose first encode waits until every builder sharing the barrier is in its own.</summary>
    private sealed class RendezvousEncoder(Barrier rendezvous) : HookedCharEncoder
    {
        private int _started;

        protected override void BeforeRow(ReadOnlySpan<char> text)
        {
            if (Interlocked.Exchange(ref _started, 1) == 0 && !rendezvous.SignalAndWait(TimeSpan.FromMinutes(2)))
                throw new TimeoutException("the other builders never started tokenizing");
        }
    }

    private sealed class FailingEncoder(string poison) : HookedCharEncoder
    {
        protected override void BeforeRow(ReadOnlySpan<char> text)
        {
            if (text.StartsWith(poison)) throw new InvalidOperationException($"cannot encode '{poison}'");
        }

        public override string Fingerprint => "failing";
    }

    [Fact]
    public void Large_vocabularies_use_32_bit_ids()
    {
        using var dir = new ScratchFolder();
        string path = dir.File("t.txt", "hello world\n");
        using var dataset = TokenCache.GetOrBuild(TextSource.FromFile(path), "train", new CharEncoder(vocabSize: 70_000), Options(dir.Path));
        Assert.Single(Directory.GetFiles(dataset.CacheFolder, "tokens.i32"));
        Assert.Equal("hell".Select(CharEncoder.Id).ToArray(), dataset.GetIds(0));
    }

    [Fact]
    public void Fewer_tokens_than_one_block_is_LM0303_and_leaves_no_entry()
    {
        using var dir = new ScratchFolder();
        string path = dir.File("t.txt", "tiny\n");
        var options = Options(dir.Path, blockSize: 64);
        var e = Assert.Throws<LmException>(() => TokenCache.GetOrBuild(TextSource.FromFile(path), "train", new CharEncoder(), options));
        Assert.Equal(ErrorCodes.NotEnoughTokens, e.Code);
        Assert.Contains("5 tokens, fewer than one block of 64", e.Message);
        Assert.Empty(Directory.GetDirectories(Path.Combine(dir.Path, "datasets")));
    }

    [Fact]
    public void Line_by_line_skips_blank_rows_and_truncates_keeping_special_tokens()
    {
        using var dir = new ScratchFolder();
        string path = dir.File("t.txt", "abcdefgh\n \n\nxy\n");
        var options = Options(dir.Path, blockSize: 5) with { LineByLine = true };
        using var dataset = TokenCache.GetOrBuild(TextSource.FromFile(path, keepLinebreaks: false), "train", new CharEncoder(addSpecialTokens: true), options);
        int[] Ids(string s) => s.Select(CharEncoder.Id).ToArray();
        Assert.Equal([[CharEncoder.Bos, .. Ids("abc"), CharEncoder.Eos], [CharEncoder.Bos, .. Ids("xy"), CharEncoder.Eos]], All(dataset));
        Assert.Equal(4, dataset.Stats.Rows);
    }

    [Fact]
    public void Take_limits_the_examples_as_max_samples_does()
    {
        using var dir = new ScratchFolder();
        string path = dir.File("t.txt", "hello world and more\n");
        using var dataset = TokenCache.GetOrBuild(TextSource.FromFile(path), "train", new CharEncoder(), Options(dir.Path));
        var first2 = dataset.Take(2);
        Assert.Equal(2, first2.Count);
        Assert.Equal(dataset.GetIds(1), first2.GetIds(1));
        Assert.Equal(5, dataset.Take(100).Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => first2.GetIds(2));
    }
}
