using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Lm.Runtime.Errors;
using Lm.Runtime.Native;

namespace Lm.Runtime.Data;

/// <summary>
/// Tokenizes and groups a split once and keeps the result as memory-mapped arrays under
/// <c>CACHE/datasets/FINGERPRINT/</c>, the fingerprint being a SHA-256 of the rows' identity (file contents and
/// reading options), the tokenizer's fingerprint, every preprocessing option and the format version. An entry is
/// written in a temporary folder and renamed into place, and is valid only with its completion marker, so a crash
/// mid-write never leaves an entry that looks valid.
/// </summary>
public static class TokenCache
{
    /// <summary>Bump when the layout or the preprocessing semantics change, so old entries are not reused.</summary>
    public const int FormatVersion = 1;

    /// <summary>Written last into an entry; an entry without it is ignored.</summary>
    public const string CompletionMarker = "complete.json";

    private const string OffsetsFile = "offsets.i64";

    /// <summary>The cache key of a split: lowercase hex SHA-256.</summary>
    public static string Fingerprint(TextSource source, ITextEncoder encoder, PreprocessingOptions options)
    {
        string key = $"lm-tune token cache|format={FormatVersion}|rows={source.Identity}|tokenizer={encoder.Fingerprint}|{options.CacheKey}";
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
    }

    /// <summary>The folder of a cache entry.</summary>
    public static string EntryFolder(string fingerprint, PreprocessingOptions options) =>
        Path.Combine(options.CacheRoot ?? TorchRuntime.CacheRoot, "datasets", fingerprint);

    /// <summary>
    /// Loads the split's entry when a complete one exists (and <see cref="PreprocessingOptions.OverwriteCache"/> is
    /// off), else tokenizes and groups the rows in parallel, writes the entry and loads it. Cancelling
    /// <paramref name="cancellation"/> stops the build after the map batch being written, deletes the partial folder
    /// and throws <see cref="OperationCanceledException"/>; a complete entry is never touched.
    /// <paramref name="rowsTokenized"/> hears the split and its rows done after each map batch of a build.
    /// </summary>
    public static LmDataset GetOrBuild(TextSource source, string split, ITextEncoder encoder, PreprocessingOptions options,
        Action<string>? log = null, CancellationToken cancellation = default, Action<string, long>? rowsTokenized = null)
    {
        string fingerprint = Fingerprint(source, encoder, options);
        string folder = EntryFolder(fingerprint, options);
        // The same rows may come from another path (a copy) or serve another split name: report the current ones.
        SplitStats Relabel(SplitStats stats) => stats with { Split = split, Source = source.Name };
        if (!options.OverwriteCache)
        {
            if (TryLoad(folder, fromCache: true, encoder.VocabSize, out string? corruption, Relabel) is { } cached)
            {
                log?.Invoke($"{split}: {cached.Count} examples from the token cache {folder}");
                return cached;
            }
            if (corruption is not null)
                log?.Invoke($"warning {ErrorCodes.TokenCacheEntryCorrupt}: the token cache entry {folder} is corrupt ({corruption}); building it again");
        }

        // An entry that exists now but did not load (overwrite asked, or corrupt) is replaced. Decided here, not when
        // publishing: an entry that appears meanwhile is another builder's fresh one, and is used, not replaced.
        bool replace = Directory.Exists(folder);
        Directory.CreateDirectory(Path.GetDirectoryName(folder)!);
        RemoveAbandonedPartials(folder);
        string partial = $"{folder}.partial-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            Directory.CreateDirectory(partial);
            Build(source, split, encoder, options, partial, log, cancellation, rowsTokenized);
            Publish(partial, folder, replace);
        }
        finally
        {
            if (Directory.Exists(partial)) Directory.Delete(partial, recursive: true);
        }
        return TryLoad(folder, fromCache: false, encoder.VocabSize, out string? problem, Relabel)
            ?? throw new IOException($"the token cache entry {folder} could not be read back after writing it{(problem is null ? "" : $": {problem}")}");
    }

    private static void Build(TextSource source, string split, ITextEncoder encoder, PreprocessingOptions options,
        string folder, Action<string>? log, CancellationToken cancellation, Action<string, long>? rowsTokenized)
    {
        int elementSize = encoder.VocabSize <= 1 << 16 ? 2 : 4;
        string tokensPath = Path.Combine(folder, TokensFile(elementSize));
        var offsets = new List<long> { 0 };
        long rows = 0, tokens = 0, dropped = 0;

        using (var output = new FileStream(tokensPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
        {
            var writer = new ExampleWriter(output, elementSize, offsets);
            var grouper = new BlockGrouper(options.BlockSize, options.GlobalConcatenation, options.KeepShortBatches);
            long[]? shardEnds = options.GroupsPerBatch && options.MapShards > 1
                ? ParallelBatchEncoder.ShardEnds(source.CountRows(), options.MapShards)
                : null;
            Func<string[], EncodedBatch> encode = options.LineByLine
                ? batch => ParallelBatchEncoder.EncodeLineByLine(encoder, batch, options.BlockSize)
                : batch => ParallelBatchEncoder.EncodeForGrouping(encoder, batch);

            foreach (var batch in ParallelBatchEncoder.Encode(source.ReadRows(), options.GroupBatchSize, options.Workers, encode, shardEnds))
            {
                // Checked per map batch: leaving the loop disposes the encoder's threads, and the caller deletes the partial folder.
                cancellation.ThrowIfCancellationRequested();
                rows += batch.Rows;
                tokens += batch.Tokens.Length;
                rowsTokenized?.Invoke(split, rows);
                if (options.LineByLine)
                {
                    int start = 0;
                    foreach (int length in batch.ExampleLengths)
                    {
                        writer.Append(batch.Tokens.AsSpan(start, length));
                        start += length;
                    }
                }
                else
                {
                    grouper.AddBatch(batch.Tokens, writer.Append);
                }
            }
            grouper.Finish();
            dropped = grouper.DroppedTokens;
            output.Flush(flushToDisk: true);
        }

        if (rows == 0)
            throw new LmException(ErrorCodes.DataFileEmpty, $"{source.Name}: the {split} split has no rows");
        if (offsets.Count == 1)
            throw new LmException(ErrorCodes.NotEnoughTokens, options.LineByLine
                ? $"{source.Name}: the {split} split has no non-blank lines, so it gives no examples"
                : $"{source.Name}: the {split} split has {tokens} tokens, fewer than one block of {options.BlockSize} " +
                  $"in every group of {options.GroupBatchSize} rows, so it gives no examples; use a smaller block_size " +
                  "(or global_concatenation) or more data");

        var stats = new SplitStats(split, source.Name, rows, tokens, offsets.Count - 1, dropped, options.BlockSize, options.LineByLine);
        File.WriteAllBytes(Path.Combine(folder, OffsetsFile), MemoryMarshal.AsBytes(CollectionsMarshal.AsSpan(offsets)).ToArray());
        var marker = new CompletionRecord(FormatVersion, elementSize, offsets.Count - 1, offsets[^1], stats);
        WriteDurably(Path.Combine(folder, CompletionMarker), JsonSerializer.SerializeToUtf8Bytes(marker, MarkerJson));
        log?.Invoke($"{split}: {rows} rows, {tokens} tokens -> {stats.Examples} examples ({dropped} tokens dropped)");
    }

    private static void Publish(string partial, string folder, bool replace)
    {
        if (replace)
        {
            MoveAside(folder);
        }
        try
        {
            Directory.Move(partial, folder);
        }
        catch (IOException) when (Directory.Exists(folder))
        {
            // Another builder published the same entry first; a complete one is as good as ours.
            using (var theirs = TryLoad(folder, fromCache: true, vocabSize: null, out _))
            {
                if (theirs is not null) return;
            }
            MoveAside(folder);
            Directory.Move(partial, folder);
        }
    }

    /// <summary>Renames an entry out of the way, then deletes it; one another builder moved first is already gone.</summary>
    private static void MoveAside(string folder)
    {
        string stale = $"{folder}.stale-{Guid.NewGuid():N}";
        try
        {
            Directory.Move(folder, stale);
        }
        catch (DirectoryNotFoundException)
        {
            return;
        }
        Directory.Delete(stale, recursive: true);
    }

    /// <summary>Deletes half-written folders of this entry left by processes that no longer run (killed mid-write).</summary>
    private static void RemoveAbandonedPartials(string folder)
    {
        string prefix = Path.GetFileName(folder) + ".partial-";
        foreach (string partial in Directory.EnumerateDirectories(Path.GetDirectoryName(folder)!, prefix + "*"))
        {
            string rest = Path.GetFileName(partial)[prefix.Length..];
            int dash = rest.IndexOf('-');
            if (dash <= 0 || !int.TryParse(rest[..dash], out int pid) || IsRunning(pid)) continue;
            try { Directory.Delete(partial, recursive: true); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>
    /// Loads a complete entry; null when the folder is missing or incomplete (<paramref name="corruption"/> null) or
    /// when it is inconsistent (<paramref name="corruption"/> says how). Everything <see cref="LmDataset"/> reads
    /// through raw pointers is checked first: file sizes, every offset in order and inside the tokens file, and
    /// (with <paramref name="vocabSize"/>) every id inside the vocabulary, so a damaged entry is rebuilt instead of
    /// reading outside the mapping or feeding the model an id its embedding lacks.
    /// </summary>
    internal static LmDataset? TryLoad(string folder, bool fromCache, int? vocabSize, out string? corruption,
        Func<SplitStats, SplitStats>? relabel = null)
    {
        var marker = TryReadMarker(folder, out corruption);
        if (marker is null) return null;
        try
        {
            string tokensPath = Path.Combine(folder, TokensFile(marker.ElementSize));
            string offsetsPath = Path.Combine(folder, OffsetsFile);
            corruption = Check(marker, tokensPath, offsetsPath, vocabSize, out long[]? offsets);
            if (corruption is not null) return null;
            var stats = relabel is null ? marker.Stats : relabel(marker.Stats);
            return new LmDataset(tokensPath, marker.ElementSize, offsets!, stats, folder, fromCache);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            corruption = e.Message;
            return null;
        }
    }

    private static string? Check(CompletionRecord marker, string tokensPath, string offsetsPath, int? vocabSize, out long[]? offsets)
    {
        offsets = null;
        if (marker.Stats is null) return $"{CompletionMarker} has no stats";
        if (marker.Examples is < 1 or >= int.MaxValue) return $"{CompletionMarker} counts {marker.Examples} examples";
        if (marker.Tokens < 0 || marker.Tokens > long.MaxValue / 4) return $"{CompletionMarker} counts {marker.Tokens} tokens";
        if (!File.Exists(tokensPath) || !File.Exists(offsetsPath)) return "a data file is missing";
        long tokensBytes = new FileInfo(tokensPath).Length, offsetsBytes = new FileInfo(offsetsPath).Length;
        if (tokensBytes != marker.Tokens * marker.ElementSize)
            return $"{Path.GetFileName(tokensPath)} has {tokensBytes} bytes, {CompletionMarker} says {marker.Tokens * marker.ElementSize}";
        if (offsetsBytes != (marker.Examples + 1) * sizeof(long))
            return $"{OffsetsFile} has {offsetsBytes} bytes, {CompletionMarker} says {(marker.Examples + 1) * sizeof(long)}";
        long[] read = LmDataset.ReadOffsets(offsetsPath);
        if (read[0] != 0 || read[^1] != marker.Tokens) return $"{OffsetsFile} does not span the {marker.Tokens} tokens";
        for (int i = 1; i < read.Length; i++)
        {
            // Offsets never go back and lengths are ints (LmDataset.GetLength): with the ends fixed above, every
            // example then lies inside the tokens file.
            long length = read[i] - read[i - 1];
            if (length is < 0 or > int.MaxValue) return $"{OffsetsFile}: example {i - 1} has length {length}";
        }
        if (vocabSize is int size && FirstIdOutside(tokensPath, marker.ElementSize, size) is long bad)
            return $"{Path.GetFileName(tokensPath)} holds id {bad}, outside the tokenizer's vocabulary of {size}";
        offsets = read;
        return null;
    }

    /// <summary>The first id of the tokens file that is not in [0, <paramref name="vocabSize"/>), or null.</summary>
    private static long? FirstIdOutside(string tokensPath, int elementSize, int vocabSize)
    {
        using var stream = new FileStream(tokensPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        byte[] buffer = new byte[1 << 20];
        int filled = 0, read;
        while ((read = stream.Read(buffer, filled, buffer.Length - filled)) > 0)
        {
            filled += read;
            int whole = filled - filled % elementSize;
            if (elementSize == 2)
            {
                foreach (ushort id in MemoryMarshal.Cast<byte, ushort>(buffer.AsSpan(0, whole)))
                    if (id >= vocabSize) return id;
            }
            else
            {
                foreach (int id in MemoryMarshal.Cast<byte, int>(buffer.AsSpan(0, whole)))
                    if ((uint)id >= (uint)vocabSize) return id;
            }
            buffer.AsSpan(whole, filled - whole).CopyTo(buffer);
            filled -= whole;
        }
        return null;
    }

    private static CompletionRecord? TryReadMarker(string folder, out string? corruption)
    {
        corruption = null;
        string path = Path.Combine(folder, CompletionMarker);
        if (!File.Exists(path)) return null;
        try
        {
            var marker = JsonSerializer.Deserialize<CompletionRecord>(File.ReadAllBytes(path), MarkerJson);
            if (marker is { Format: FormatVersion, ElementSize: 2 or 4 }) return marker;
            // An entry of another format version was written by another lm-tune release: not damage, just not ours.
            if (marker is not null && marker.Format != FormatVersion) return null;
            corruption = $"{CompletionMarker} has element size {marker?.ElementSize}";
            return null;
        }
        catch (Exception e) when (e is JsonException or IOException)
        {
            corruption = $"{CompletionMarker} is unreadable: {e.Message}";
            return null;
        }
    }

    private static string TokensFile(int elementSize) => elementSize == 2 ? "tokens.u16" : "tokens.i32";

    private static void WriteDurably(string path, byte[] bytes)
    {
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        stream.Write(bytes);
        stream.Flush(flushToDisk: true);
    }

    private static readonly JsonSerializerOptions MarkerJson = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
    };

    private sealed record CompletionRecord(
        [property: JsonPropertyName("format")] int Format,
        [property: JsonPropertyName("element_size")] int ElementSize,
        [property: JsonPropertyName("examples")] long Examples,
        [property: JsonPropertyName("tokens")] long Tokens,
        [property: JsonPropertyName("stats")] SplitStats Stats);

    /// <summary>Appends examples to the tokens file as 16- or 32-bit ids and records where each ends.</summary>
    private sealed class ExampleWriter(FileStream output, int elementSize, List<long> offsets)
    {
        private byte[] _buffer = new byte[4096];

        public void Append(ReadOnlySpan<int> ids)
        {
            int bytes = ids.Length * elementSize;
            if (_buffer.Length < bytes) _buffer = new byte[Math.Max(bytes, _buffer.Length * 2)];
            if (elementSize == 2)
            {
                var target = MemoryMarshal.Cast<byte, ushort>(_buffer.AsSpan(0, bytes));
                for (int i = 0; i < ids.Length; i++)
                {
                    if ((uint)ids[i] > ushort.MaxValue)
                        throw new InvalidOperationException($"token id {ids[i]} does not fit the 16-bit cache layout");
                    target[i] = (ushort)ids[i];
                }
            }
            else
            {
                MemoryMarshal.AsBytes(ids).CopyTo(_buffer);
            }
            output.Write(_buffer, 0, bytes);
            offsets.Add(offsets[^1] + ids.Length);
        }
    }
}
