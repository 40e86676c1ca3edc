using System.Buffers;
using System.Text;
using System.Text.Unicode;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Data;

/// <summary>
/// Reads a UTF-8 file as decoded text chunks of bounded size, each ending after a <c>\n</c> byte (or at the end of
/// the file), so a line never straddles two chunks and memory stays bounded whatever the file size. Decoding is
/// strict, as Python's <c>open(encoding="utf-8")</c>: an invalid sequence is an <see cref="LmException"/> naming
/// the byte offset and line. A byte-order mark is kept as U+FEFF, as Python's "utf-8" codec does.
/// </summary>
internal sealed class Utf8ChunkReader : IDisposable
{
    private const int DefaultChunkBytes = 1 << 20;

    private readonly FileStream _stream;
    private readonly string _path;
    private readonly int _chunkBytes;
    private byte[] _bytes;
    private int _carry;          // bytes after the last '\n' of the previous read, moved to the front
    private long _carryOffset;   // file offset of _bytes[0]
    private char[] _chars = Array.Empty<char>();
    private long _lineNumber = 1;
    private bool _eof;

    public Utf8ChunkReader(string path, int chunkBytes = DefaultChunkBytes)
    {
        _path = path;
        _stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        _chunkBytes = Math.Max(16, chunkBytes);
        _bytes = new byte[_chunkBytes];
    }

    /// <summary>The decoded characters of the current chunk.</summary>
    public ReadOnlySpan<char> Chunk => _chars.AsSpan(0, ChunkLength);

    public int ChunkLength { get; private set; }

    /// <summary>1-based line number of the first character of <see cref="Chunk"/>.</summary>
    public long ChunkFirstLine { get; private set; } = 1;

    /// <summary>Reads the next chunk; false at the end of the file.</summary>
    public bool Read()
    {
        // A line longer than a chunk grew the buffers to its size; the rows cut from it are strings of their own by
        // now, so the next chunk goes back to the usual size instead of keeping a copy of the longest line alive.
        if (_chars.Length > 2 * _chunkBytes) _chars = Array.Empty<char>();
        while (true)
        {
            if (!_eof)
            {
                int read = _stream.Read(_bytes, _carry, _bytes.Length - _carry);
                if (read == 0) _eof = true;
                else _carry += read;
            }
            if (_carry == 0) return false;

            int cut;
            if (_eof)
            {
                cut = _carry;
            }
            else
            {
                int lastNewline = _bytes.AsSpan(0, _carry).LastIndexOf((byte)'\n');
                if (lastNewline < 0)
                {
                    // One line longer than the buffer: grow and read on.
                    if (_carry == _bytes.Length) Array.Resize(ref _bytes, _bytes.Length * 2);
                    continue;
                }
                cut = lastNewline + 1;
            }

            Decode(_bytes.AsSpan(0, cut));
            ChunkFirstLine = _lineNumber;
            _lineNumber += Chunk.Count('\n');
            _carryOffset += cut;
            int rest = _carry - cut;
            if (_bytes.Length > _chunkBytes && rest <= _chunkBytes / 2)
            {
                // Release the grown byte buffer before the caller makes its rows: with a 20 MB line the bytes,
                // the decoded chunk and the row would otherwise all be alive at once.
                var smaller = new byte[_chunkBytes];
                _bytes.AsSpan(cut, rest).CopyTo(smaller);
                _bytes = smaller;
            }
            else
            {
                _bytes.AsSpan(cut, rest).CopyTo(_bytes);
            }
            _carry = rest;
            return true;
        }
    }

    private void Decode(ReadOnlySpan<byte> bytes)
    {
        if (_chars.Length < bytes.Length) _chars = new char[bytes.Length];
        var status = Utf8.ToUtf16(bytes, _chars, out int bytesRead, out int charsWritten, replaceInvalidSequences: false);
        if (status != OperationStatus.Done)
        {
            long offset = _carryOffset + bytesRead;
            long line = _lineNumber + bytes[..bytesRead].Count((byte)'\n');
            throw new LmException(ErrorCodes.InvalidUtf8,
                $"{_path}: not valid UTF-8 at byte offset {offset} (line {line}); save the file as UTF-8")
            { File = _path, Line = (int)Math.Min(line, int.MaxValue), Offset = offset };
        }
        ChunkLength = charsWritten;
    }

    public void Dispose() => _stream.Dispose();

    /// <summary>Reads a whole (small) file strictly; errors as <see cref="Read"/>.</summary>
    public static string ReadAllText(string path)
    {
        var text = new StringBuilder();
        using var reader = new Utf8ChunkReader(path);
        while (reader.Read()) text.Append(reader.Chunk);
        return text.ToString();
    }
}
