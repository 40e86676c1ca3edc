namespace Lm.Runtime.Data;

/// <summary>
/// run_clm.py's <c>group_texts</c>: the token lists of one <c>datasets.map</c> batch are concatenated and cut into
/// blocks of <c>block_size</c>; the remainder that does not fill a block is dropped, per batch (so every 1000 rows
/// lose up to <c>block_size - 1</c> tokens, as in Hugging Face), or, with global concatenation, carried over so
/// that only the split's final remainder is dropped. Labels equal the input ids; the model shifts them.
/// run_mlm.py's variant keeps a batch that has fewer tokens than one block as one shorter block.
/// </summary>
public sealed class BlockGrouper
{
    private readonly int _blockSize;
    private readonly bool _global;
    private readonly bool _keepShortBatches;
    private readonly List<int> _carry = new();

    public BlockGrouper(int blockSize, bool globalConcatenation, bool keepShortBatches = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 1);
        _blockSize = blockSize;
        _global = globalConcatenation;
        _keepShortBatches = keepShortBatches && !globalConcatenation;
    }

    /// <summary>Tokens dropped so far (remainders that did not fill a block).</summary>
    public long DroppedTokens { get; private set; }

    /// <summary>Blocks emitted so far.</summary>
    public long Blocks { get; private set; }

    /// <summary>Groups one map batch (all its rows' ids, concatenated in row order) and emits its blocks.</summary>
    public void AddBatch(ReadOnlySpan<int> batchTokens, Action<ReadOnlySpan<int>> emitBlock)
    {
        if (_global && _carry.Count > 0)
        {
            _carry.AddRange(batchTokens);
            var all = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_carry);
            int used = EmitBlocks(all, emitBlock);
            _carry.RemoveRange(0, used);
            return;
        }
        if (_keepShortBatches && batchTokens.Length is > 0 && batchTokens.Length < _blockSize)
        {
            emitBlock(batchTokens);
            Blocks++;
            return;
        }
        int consumed = EmitBlocks(batchTokens, emitBlock);
        var rest = batchTokens[consumed..];
        if (_global) _carry.AddRange(rest);
        else DroppedTokens += rest.Length;
    }

    /// <summary>Ends the split: with global concatenation, the final remainder is dropped here.</summary>
    public void Finish()
    {
        DroppedTokens += _carry.Count;
        _carry.Clear();
    }

    private int EmitBlocks(ReadOnlySpan<int> tokens, Action<ReadOnlySpan<int>> emitBlock)
    {
        int whole = tokens.Length / _blockSize * _blockSize;
        for (int start = 0; start < whole; start += _blockSize)
        {
            emitBlock(tokens.Slice(start, _blockSize));
            Blocks++;
        }
        return whole;
    }
}
