using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;

namespace Lm.Runtime.Data;

/// <summary>What preprocessing did to one split.</summary>
/// <param name="Split">"train", "validation", ...</param>
/// <param name="Source">Where the rows came from.</param>
/// <param name="Rows">Rows read (examples of the raw dataset).</param>
/// <param name="Tokens">Tokens the tokenizer produced for those rows (line by line: after truncation).</param>
/// <param name="Examples">Blocks (grouping) or lines (line by line) in the dataset, before any max-samples limit.</param>
/// <param name="DroppedTokens">Tokens of remainders that did not fill a block.</param>
/// <param name="BlockSize">Block length (grouping) or maximum example length (line by line).</param>
/// <param name="LineByLine">Whether examples are lines rather than blocks.</param>
public sealed record SplitStats(
    string Split, string Source, long Rows, long Tokens, long Examples, long DroppedTokens, int BlockSize, bool LineByLine);

/// <summary>
/// A tokenized split: examples (blocks of <c>block_size</c> ids, or single lines) held in memory-mapped token
/// cache files. Reading is thread-safe. Dispose to unmap; views from <see cref="Take"/> share the mapping and
/// must not outlive the dataset they came from.
/// </summary>
public sealed unsafe class LmDataset : IDisposable
{
    private readonly MemoryMappedFile? _file;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _tokens;
    private readonly int _elementSize;
    private readonly long[] _offsets;
    private readonly int _count;
    private readonly bool _ownsMapping;
    private bool _disposed;

    internal LmDataset(string tokensPath, int elementSize, long[] offsets, SplitStats stats, string cacheFolder, bool fromCache)
    {
        _elementSize = elementSize;
        _offsets = offsets;
        _count = offsets.Length - 1;
        _ownsMapping = true;
        Stats = stats;
        CacheFolder = cacheFolder;
        FromCache = fromCache;
        if (new FileInfo(tokensPath).Length > 0)
        {
            _file = MemoryMappedFile.CreateFromFile(tokensPath, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            _view = _file.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* pointer = null;
            _view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            _tokens = pointer + _view.PointerOffset;
        }
    }

    private LmDataset(LmDataset parent, int count)
    {
        _file = parent._file;
        _view = parent._view;
        _tokens = parent._tokens;
        _elementSize = parent._elementSize;
        _offsets = parent._offsets;
        _count = count;
        _ownsMapping = false;
        Stats = parent.Stats;
        CacheFolder = parent.CacheFolder;
        FromCache = parent.FromCache;
    }

    /// <summary>Number of examples.</summary>
    public int Count => _count;

    /// <summary>What preprocessing did (counts cover the whole split, before <see cref="Take"/>).</summary>
    public SplitStats Stats { get; }

    /// <summary>The token cache entry the examples live in.</summary>
    public string CacheFolder { get; }

    /// <summary>True when the examples were loaded from an existing cache entry rather than built now.</summary>
    public bool FromCache { get; }

    /// <summary>Total tokens over the examples of this view.</summary>
    public long TotalTokens => _offsets[_count] - _offsets[0];

    /// <summary>Length of example <paramref name="index"/>.</summary>
    public int GetLength(int index)
    {
        CheckIndex(index);
        return (int)(_offsets[index + 1] - _offsets[index]);
    }

    /// <summary>Copies example <paramref name="index"/>'s ids into <paramref name="destination"/> (at least its length).</summary>
    public void CopyTo(int index, Span<long> destination)
    {
        CheckIndex(index);
        long start = _offsets[index];
        int length = (int)(_offsets[index + 1] - start);
        if (_elementSize == 2)
        {
            var source = new ReadOnlySpan<ushort>(_tokens + start * 2, length);
            for (int i = 0; i < length; i++) destination[i] = source[i];
        }
        else
        {
            var source = new ReadOnlySpan<int>(_tokens + start * 4, length);
            for (int i = 0; i < length; i++) destination[i] = source[i];
        }
    }

    /// <summary>The ids of example <paramref name="index"/>.</summary>
    public int[] GetIds(int index)
    {
        var ids = new long[GetLength(index)];
        CopyTo(index, ids);
        return Array.ConvertAll(ids, id => (int)id);
    }

    /// <summary>
    /// The first <paramref name="count"/> examples (run_clm.py's <c>select(range(max_train_samples))</c>); the whole
    /// dataset when it has fewer.
    /// </summary>
    public LmDataset Take(int count) => new(this, Math.Clamp(count, 0, _count));

    private void CheckIndex(int index)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if ((uint)index >= (uint)_count) throw new ArgumentOutOfRangeException(nameof(index), index, $"the dataset has {_count} examples");
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (!_ownsMapping) return;
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _file?.Dispose();
    }

    internal static long[] ReadOffsets(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        return MemoryMarshal.Cast<byte, long>(bytes).ToArray();
    }
}
