using System.Text;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Tokenization.SentencePiece;

/// <summary>The kind of a SentencePiece piece (<c>ModelProto.SentencePiece.Type</c>).</summary>
internal enum SentencePieceType
{
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}

/// <summary>One entry of the model's vocabulary: its id is its index.</summary>
internal sealed record SentencePieceEntry(string Piece, float Score, SentencePieceType Type);

/// <summary>
/// The parts of a SentencePiece <c>tokenizer.model</c> (a serialized <c>sentencepiece.ModelProto</c>) that
/// transformers' converters read: the pieces with their scores and types, and from <c>trainer_spec</c> the model
/// type, the unknown piece and byte fallback. The protobuf is decoded here, field by field: the message is small
/// and fixed, and every length is checked against the bytes left, so a damaged file is LM0250 naming the offset
/// instead of an allocation the size of a corrupt length.
/// </summary>
internal sealed class SentencePieceModelFile
{
    /// <summary>The largest file read: published models are 0.5–4 MB.</summary>
    public const long MaxFileBytes = 256L << 20;

    /// <summary><c>TrainerSpec.ModelType</c>: UNIGRAM = 1 (the proto's default), BPE = 2, WORD = 3, CHAR = 4.</summary>
    public const int Unigram = 1;

    public const int Bpe = 2;

    private SentencePieceModelFile(string path, List<SentencePieceEntry> pieces)
    {
        Path = path;
        Pieces = pieces;
    }

    public string Path { get; }

    public IReadOnlyList<SentencePieceEntry> Pieces { get; }

    /// <summary><c>trainer_spec.model_type</c>.</summary>
    public int ModelType { get; private set; } = Unigram;

    /// <summary><c>trainer_spec.byte_fallback</c> (transformers' Llama converter turns byte fallback on regardless).</summary>
    public bool ByteFallback { get; private set; }

    /// <summary><c>trainer_spec.unk_id</c>.</summary>
    public int UnkId { get; private set; }

    /// <summary><c>trainer_spec.unk_piece</c>.</summary>
    public string UnkPiece { get; private set; } = "<unk>";

    /// <summary><c>normalizer_spec.add_dummy_prefix</c> (the converters for Llama ignore it; kept for messages).</summary>
    public bool AddDummyPrefix { get; private set; } = true;

    /// <summary>Whether <c>normalizer_spec.precompiled_charsmap</c> holds a normalization table.</summary>
    public bool HasPrecompiledCharsmap { get; private set; }

    public static string ModelTypeName(int modelType) => modelType switch
    {
        1 => "UNIGRAM",
        2 => "BPE",
        3 => "WORD",
        4 => "CHAR",
        _ => $"unknown ({modelType})",
    };

    public static SentencePieceModelFile Read(string path)
    {
        long length = new FileInfo(path).Length;
        if (length > MaxFileBytes)
        {
            throw Malformed(path, $"is {length:N0} bytes; a SentencePiece model is at most {MaxFileBytes:N0} (published ones are a few MB)");
        }

        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (IOException e)
        {
            throw new LmException(ErrorCodes.TokenizerFilesNotFound, $"{path} could not be read: {e.Message}") { File = path };
        }

        return Parse(bytes, path);
    }

    public static SentencePieceModelFile Parse(byte[] bytes, string path)
    {
        var pieces = new List<SentencePieceEntry>();
        var model = new SentencePieceModelFile(path, pieces);
        var reader = new ProtoReader(bytes, 0, bytes.Length, path);
        while (!reader.AtEnd)
        {
            (int field, int wire) = reader.Tag();
            switch (field, wire)
            {
                case (1, ProtoReader.LengthDelimited):
                    if (pieces.Count >= PretrainedTokenizerReader.MaxTokenId)
                    {
                        throw Malformed(path, $"has more than {PretrainedTokenizerReader.MaxTokenId:N0} pieces");
                    }

                    pieces.Add(ReadPiece(reader.Message(), pieces.Count));
                    break;
                case (2, ProtoReader.LengthDelimited):
                    model.ReadTrainerSpec(reader.Message());
                    break;
                case (3, ProtoReader.LengthDelimited):
                    model.ReadNormalizerSpec(reader.Message());
                    break;
                default:
                    // self_test_data (4), denormalizer_spec (5) and extensions: not read by the converters.
                    reader.Skip(wire);
                    break;
            }
        }

        if (pieces.Count < 3)
        {
            throw Malformed(path, $"has {pieces.Count} pieces; a SentencePiece model has at least the unknown, bos and eos pieces");
        }

        return model;
    }

    private static SentencePieceEntry ReadPiece(ProtoReader reader, int index)
    {
        string? piece = null;
        float score = 0;
        int type = (int)SentencePieceType.Normal;
        while (!reader.AtEnd)
        {
            (int field, int wire) = reader.Tag();
            switch (field, wire)
            {
                case (1, ProtoReader.LengthDelimited):
                    piece = reader.String();
                    break;
                case (2, ProtoReader.Fixed32):
                    score = reader.Float();
                    break;
                case (3, ProtoReader.VarintWire):
                    type = (int)reader.Varint();
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        if (piece is null)
        {
            throw Malformed(reader.Path, $"has piece {index} without its text");
        }

        if (type is < 1 or > 6)
        {
            throw Malformed(reader.Path, $"has piece {index} ('{piece}') of unknown type {type}");
        }

        return new SentencePieceEntry(piece, score, (SentencePieceType)type);
    }

    private void ReadTrainerSpec(ProtoReader reader)
    {
        while (!reader.AtEnd)
        {
            (int field, int wire) = reader.Tag();
            switch (field, wire)
            {
                case (3, ProtoReader.VarintWire):
                    ModelType = (int)reader.Varint();
                    break;
                case (35, ProtoReader.VarintWire):
                    ByteFallback = reader.Varint() != 0;
                    break;
                case (40, ProtoReader.VarintWire):
                    UnkId = (int)reader.Varint();
                    break;
                case (45, ProtoReader.LengthDelimited):
                    UnkPiece = reader.String();
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }
    }

    private void ReadNormalizerSpec(ProtoReader reader)
    {
        while (!reader.AtEnd)
        {
            (int field, int wire) = reader.Tag();
            switch (field, wire)
            {
                case (2, ProtoReader.LengthDelimited):
                    HasPrecompiledCharsmap = reader.Message().Length > 0;
                    break;
                case (3, ProtoReader.VarintWire):
                    AddDummyPrefix = reader.Varint() != 0;
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }
    }

    internal static LmException Malformed(string path, string problem) =>
        new(ErrorCodes.SentencePieceModelMalformed, $"{path} is not a readable SentencePiece model: it {problem}.") { File = path };

    /// <summary>Protobuf wire format over a byte range; every read checks the bytes left.</summary>
    private sealed class ProtoReader(byte[] bytes, int begin, int end, string path)
    {
        public const int VarintWire = 0;
        public const int Fixed64 = 1;
        public const int LengthDelimited = 2;
        public const int Fixed32 = 5;

        private readonly int _start = begin;
        private int _position = begin;

        public string Path => path;

        public int Length => end - _start;

        public bool AtEnd => _position >= end;

        public (int Field, int Wire) Tag()
        {
            int at = _position;
            ulong tag = Varint();
            int field = (int)(tag >> 3);
            if (field == 0 || tag >> 3 > int.MaxValue)
            {
                throw Malformed(path, $"has an invalid field tag at byte {at}");
            }

            return (field, (int)(tag & 7));
        }

        public ulong Varint()
        {
            ulong value = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                if (_position >= end)
                {
                    throw Malformed(path, $"ends inside a number at byte {_position}");
                }

                byte b = bytes[_position++];
                value |= (ulong)(b & 0x7F) << shift;
                if ((b & 0x80) == 0)
                {
                    return value;
                }
            }

            throw Malformed(path, $"has a number longer than 10 bytes at byte {_position}");
        }

        public float Float()
        {
            Require(4);
            float value = BitConverter.ToSingle(bytes, _position);
            if (!BitConverter.IsLittleEndian)
            {
                value = BitConverter.Int32BitsToSingle(System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(BitConverter.SingleToInt32Bits(value)));
            }

            _position += 4;
            return value;
        }

        public ProtoReader Message()
        {
            int length = LengthPrefix();
            var inner = new ProtoReader(bytes, _position, _position + length, path);
            _position += length;
            return inner;
        }

        public string String()
        {
            int at = _position;
            int length = LengthPrefix();
            try
            {
                string text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes, _position, length);
                _position += length;
                return text;
            }
            catch (DecoderFallbackException)
            {
                throw Malformed(path, $"has text that is not UTF-8 at byte {at}");
            }
        }

        public void Skip(int wire)
        {
            int at = _position;
            switch (wire)
            {
                case VarintWire:
                    Varint();
                    break;
                case Fixed64:
                    Require(8);
                    _position += 8;
                    break;
                case LengthDelimited:
                    // Not "_position += LengthPrefix()": C# reads _position before the call moves it.
                    int length = LengthPrefix();
                    _position += length;
                    break;
                case Fixed32:
                    Require(4);
                    _position += 4;
                    break;
                default:
                    // Groups (3, 4) are not used by sentencepiece_model.proto; 6 and 7 do not exist.
                    throw Malformed(path, $"has a field of wire type {wire} at byte {at}, which SentencePiece models do not use");
            }
        }

        private int LengthPrefix()
        {
            int at = _position;
            ulong length = Varint();
            if (length > (ulong)(end - _position))
            {
                throw Malformed(path, $"declares {length:N0} bytes at byte {at} where {end - _position:N0} are left");
            }

            return (int)length;
        }

        private void Require(int count)
        {
            if (end - _position < count)
            {
                throw Malformed(path, $"ends inside a field at byte {_position}");
            }
        }
    }
}
