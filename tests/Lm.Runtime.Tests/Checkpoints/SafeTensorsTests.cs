using System.Buffers.Binary;
using System.Text;
using Lm.Runtime.Checkpoints;
using Lm.Runtime.Errors;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Checkpoints;

public sealed class SafeTensorsTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("lm-safetensors-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private string PathOf(string name) => Path.Combine(folder, name);

    // Expected bytes are the reference implementation's own serialization tests (safetensors/src/tensor.rs).
    [Fact]
    public void Writer_matches_reference_bytes_for_one_f32_tensor_without_metadata()
    {
        using var t = tensor(new float[] { 0, 1, 2, 3, 4, 5 }).reshape(1, 2, 3);
        string path = PathOf("a.safetensors");
        SafeTensorsWriter.Write(path, [new("attn.0", t)], new Dictionary<string, string>());
        byte[] expected =
        [
            64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
            116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
            58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
            101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
            0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
        ];
        Assert.Equal(expected, File.ReadAllBytes(path));
    }

    [Fact]
    public void Writer_pads_the_header_with_spaces_to_eight_bytes_as_the_reference_does()
    {
        using var t = tensor(new float[] { 0, 1, 2, 3, 4, 5 }).reshape(1, 1, 2, 3);
        string path = PathOf("b.safetensors");
        SafeTensorsWriter.Write(path, [new("attn0", t)], new Dictionary<string, string>());
        byte[] expected =
        [
            72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116,
            121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58,
            91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102,
            115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32,
            32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0,
            160, 64,
        ];
        Assert.Equal(expected, File.ReadAllBytes(path));
    }

    [Fact]
    public void Writer_puts_metadata_first_as_the_reference_does()
    {
        string path = PathOf("c.safetensors");
        SafeTensorsWriter.Write(path, [], new Dictionary<string, string> { ["framework"] = "pt" });
        byte[] expected =
        [
            40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95,
            95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112,
            116, 34, 125, 125, 32, 32, 32, 32, 32,
        ];
        Assert.Equal(expected, File.ReadAllBytes(path));
    }

    [Fact]
    public void Writer_orders_by_dtype_alignment_then_name_and_writes_pt_format_metadata()
    {
        using var f32b = ones(2);
        using var f32a = ones(3);
        using var bf16 = ones(2, dtype: ScalarType.BFloat16);
        using var i64 = ones(1, dtype: ScalarType.Int64);
        using var flag = ones(1, dtype: ScalarType.Bool);
        string path = PathOf("order.safetensors");
        SafeTensorsWriter.Write(path, [new("b", f32b), new("z", bf16), new("a", f32a), new("flag", flag), new("ids", i64)]);

        var header = SafeTensorsReader.ReadHeader(path);
        Assert.Equal(["ids", "a", "b", "z", "flag"], header.Tensors.Select(t => t.Name));
        Assert.Equal(new Dictionary<string, string> { ["format"] = "pt" }, header.Metadata);
        string json = HeaderText(path);
        Assert.StartsWith("{\"__metadata__\":{\"format\":\"pt\"},\"ids\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]},\"a\":", json);
        Assert.Equal(0, (json.Length) % 8);
    }

    [Fact]
    public void Write_then_read_is_bit_identical_for_every_supported_dtype()
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(7);
        var tensors = new Dictionary<string, Tensor>
        {
            ["f32"] = randn([3, 5], generator: generator),
            ["f16"] = randn([4, 2], generator: generator).to(ScalarType.Float16),
            ["bf16"] = randn([7], generator: generator).to(ScalarType.BFloat16),
            ["f64"] = randn([2, 2], dtype: ScalarType.Float64, generator: generator),
            ["i64"] = randint(-1000, 1000, [6], dtype: ScalarType.Int64, generator: generator),
            ["i32"] = randint(-1000, 1000, [2, 3], dtype: ScalarType.Int32, generator: generator),
            ["u8"] = randint(0, 255, [5], dtype: ScalarType.Byte, generator: generator),
            ["flags"] = tensor(new[] { true, false, true }),
            ["scalar"] = tensor(3.5f),
            ["empty"] = zeros(0, 4),
        };
        string path = PathOf("all.safetensors");
        SafeTensorsWriter.Write(path, tensors);

        var read = SafeTensorsReader.Read(path);
        Assert.Equal(tensors.Keys.Order(), read.Keys.Order());
        foreach (var (name, original) in tensors)
        {
            using var back = read[name];
            Assert.Equal(original.dtype, back.dtype);
            Assert.Equal(original.shape, back.shape);
            Assert.Equal(original.bytes.ToArray(), back.bytes.ToArray());
        }
    }

    [Fact]
    public void A_written_file_is_readable_by_the_layout_rules_alone()
    {
        using var t = arange(6, dtype: ScalarType.Float32).reshape(2, 3);
        string path = PathOf("layout.safetensors");
        SafeTensorsWriter.Write(path, [new("w", t)]);
        byte[] file = File.ReadAllBytes(path);
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(file);
        Assert.Equal(file.Length, 8 + headerLength + 24);
        float[] data = new float[6];
        Buffer.BlockCopy(file, (int)(8 + headerLength), data, 0, 24);
        Assert.Equal(new float[] { 0, 1, 2, 3, 4, 5 }, data);
    }

    private string HeaderText(string path)
    {
        byte[] file = File.ReadAllBytes(path);
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(file);
        return Encoding.UTF8.GetString(file, 8, (int)n);
    }

    private string Hostile(string header, int dataBytes, ulong? declaredLength = null)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        var file = new byte[8 + json.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(file, declaredLength ?? (ulong)json.Length);
        json.CopyTo(file, 8);
        string path = PathOf($"hostile-{Guid.NewGuid():N}.safetensors");
        File.WriteAllBytes(path, file);
        return path;
    }

    public static TheoryData<string, string, int, ulong?> HostileFiles() => new()
    {
        { ErrorCodes.SafeTensorsBadHeader, """{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 4, 1UL << 31 },
        { ErrorCodes.SafeTensorsBadHeader, """{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 4, 500 },
        { ErrorCodes.SafeTensorsBadHeader, """{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]""", 4, null },
        { ErrorCodes.SafeTensorsBadHeader, """[1,2,3]""", 0, null },
        { ErrorCodes.SafeTensorsBadHeader, """{"a":{"shape":[1],"data_offsets":[0,4]}}""", 4, null },
        { ErrorCodes.SafeTensorsBadHeader, """{"__metadata__":{"format":1}}""", 0, null },
        { ErrorCodes.SafeTensorsBadOffsets, """{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 0, null },
        { ErrorCodes.SafeTensorsBadOffsets, """{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 12, null },
        { ErrorCodes.SafeTensorsBadOffsets, """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8, null },
        { ErrorCodes.SafeTensorsBadOffsets, """{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8, null },
        { ErrorCodes.SafeTensorsBadOffsets, """{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551615]}}""", 4, null },
        { ErrorCodes.SafeTensorsBadShape, """{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,4]}}""", 4, null },
        { ErrorCodes.SafeTensorsBadShape, """{"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,4]}}""", 4, null },
        { ErrorCodes.SafeTensorsBadShape, """{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", 4, null },
        { ErrorCodes.SafeTensorsUnsupportedDtype, """{"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}""", 1, null },
        { ErrorCodes.SafeTensorsUnsupportedDtype, """{"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}""", 1, null },
    };

    [Theory]
    [MemberData(nameof(HostileFiles))]
    public void A_hostile_file_fails_fast_with_its_code(string code, string header, int dataBytes, ulong? declaredLength)
    {
        string path = Hostile(header, dataBytes, declaredLength);
        // "Fast" as a count, not a clock: the reader rejects the file without allocating what the header claims
        // (a reader that trusts a 2 GB length field or a 2^66-element shape allocates gigabytes first).
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<LmException>(() => SafeTensorsReader.Read(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        Assert.True(allocated < 1 << 20, $"allocated {allocated:N0} bytes");
        Assert.Equal(code, error.Code);
        Assert.Equal(path, error.File);
    }

    [Fact]
    public void A_file_shorter_than_the_length_field_is_a_header_error()
    {
        string path = PathOf("short.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        Assert.Equal(ErrorCodes.SafeTensorsBadHeader, Assert.Throws<LmException>(() => SafeTensorsReader.ReadHeader(path)).Code);
    }

    [Fact]
    public void A_header_that_is_not_utf8_is_a_header_error()
    {
        string path = PathOf("latin1.safetensors");
        byte[] json = [(byte)'{', (byte)'"', 0xFF, (byte)'"', (byte)':', (byte)'1', (byte)'}', (byte)' '];
        var file = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(file, 8);
        json.CopyTo(file, 8);
        File.WriteAllBytes(path, file);
        Assert.Equal(ErrorCodes.SafeTensorsBadHeader, Assert.Throws<LmException>(() => SafeTensorsReader.ReadHeader(path)).Code);
    }
}
