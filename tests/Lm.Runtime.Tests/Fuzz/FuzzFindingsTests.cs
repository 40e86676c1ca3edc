using System.Runtime.InteropServices;
using System.Text;
using Lm.Fuzz.Targets;
using Lm.Runtime.Checkpoints;
using Lm.Runtime.Data;
using Lm.Runtime.Errors;
using Lm.Runtime.Files;
using Lm.Runtime.Models;
using Lm.Runtime.Tests.Data;
using Lm.Runtime.Tokenization;
using Lm.Runtime.Training;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Fuzz;

/// <summary>
/// One test per crash the fuzz targets found (inputs under fuzz/corpus and fuzz/regressions): each used to escape
/// as a .NET exception (or a native abort) and now ends in the file's own LM code, or in a cache entry dropped.
/// </summary>
public class FuzzFindingsTests
{
    private static LmException Rejects(Action read) => Assert.Throws<LmException>(read);

    [Fact]
    public void Jsonl_row_with_an_unpaired_surrogate_escape_is_LM0320_naming_its_line()
    {
        using var scratch = new ScratchFolder();
        string path = scratch.File("data.jsonl", "{\"text\": \"ok\"}\n{\"text\": \"\\ud800\"}\n");
        var error = Rejects(() => TextSource.FromFile(path).ReadRows().ToList());
        Assert.Equal(ErrorCodes.InvalidUtf16InJson, error.Code);
        Assert.Equal(2, error.Line);
        Assert.Contains("surrogate", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_array_item_with_an_unpaired_surrogate_escape_is_LM0320_naming_the_item()
    {
        using var scratch = new ScratchFolder();
        string path = scratch.File("data.json", "[{\"text\": \"a\"}, {\"text\": \"\\udc00x\"}]");
        var error = Rejects(() => TextSource.FromFile(path).ReadRows().ToList());
        Assert.Equal(ErrorCodes.InvalidUtf16InJson, error.Code);
        Assert.Contains("array item 2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Jsonl_key_with_an_unpaired_surrogate_escape_is_LM0320_naming_its_line()
    {
        // Found by afl in the jsonl target: reading the columns threw InvalidOperationException.
        using var scratch = new ScratchFolder();
        string path = scratch.File("data.jsonl", "{\"p\\ud800ext\": \"ok\"}\n{\"text\": \"b\"}\n");
        var error = Rejects(() => TextSource.FromFile(path).ReadRows().ToList());
        Assert.Equal(ErrorCodes.InvalidUtf16InJson, error.Code);
        Assert.Equal(1, error.Line);
    }

    /// <summary>Writes a token-cache entry of 16-bit ids by hand: marker, offsets and tokens.</summary>
    private static string WriteCacheEntry(ScratchFolder scratch, long[] offsets, ushort[] tokens, bool withStats = true)
    {
        string folder = Path.Combine(scratch.Path, "entry");
        Directory.CreateDirectory(folder);
        string stats = withStats
            ? $$""", "stats": {"split": "train", "source": "t.txt", "rows": 1, "tokens": {{tokens.Length}}, "examples": {{offsets.Length - 1}}, "dropped_tokens": 0, "block_size": 2, "line_by_line": false}"""
            : "";
        File.WriteAllText(Path.Combine(folder, TokenCache.CompletionMarker),
            $$"""{"format": 1, "element_size": 2, "examples": {{offsets.Length - 1}}, "tokens": {{tokens.Length}}{{stats}}}""");
        File.WriteAllBytes(Path.Combine(folder, "offsets.i64"), MemoryMarshal.AsBytes(offsets.AsSpan()).ToArray());
        File.WriteAllBytes(Path.Combine(folder, "tokens.u16"), MemoryMarshal.AsBytes(tokens.AsSpan()).ToArray());
        return folder;
    }

    [Fact]
    public void Token_cache_entry_loads_when_its_offsets_ascend()
    {
        using var scratch = new ScratchFolder();
        string folder = WriteCacheEntry(scratch, [0, 2, 4, 6], [1, 2, 3, 4, 5, 6]);
        using LmDataset dataset = TokenCache.TryLoad(folder, fromCache: true, vocabSize: null, out _)!;
        Assert.Equal(3, dataset.Count);
        Assert.Equal([3, 4], dataset.GetIds(1));
    }

    [Fact]
    public void Token_cache_entry_with_an_interior_offset_out_of_order_is_dropped()
    {
        // First and last offsets and both file sizes agree with the marker; only the middle is wrong. Reading
        // example 1 used to compute a negative length (and past the mapping for larger jumps).
        using var scratch = new ScratchFolder();
        string folder = WriteCacheEntry(scratch, [0, 5, 1, 6], [1, 2, 3, 4, 5, 6]);
        Assert.Null(TokenCache.TryLoad(folder, fromCache: true, vocabSize: null, out _));
    }

    [Fact]
    public void Token_cache_entry_whose_marker_lacks_stats_is_dropped()
    {
        using var scratch = new ScratchFolder();
        string folder = WriteCacheEntry(scratch, [0, 2], [1, 2], withStats: false);
        Assert.Null(TokenCache.TryLoad(folder, fromCache: true, vocabSize: null, out _));
    }

    private const string Vocabulary = """{"h": 0, "e": 1, "he": 2, "<|endoftext|>": 3}""";

    [Fact]
    public void Tokenizer_config_value_of_the_wrong_type_is_LM0220()
    {
        using var scratch = new ScratchFolder();
        scratch.File("vocab.json", Vocabulary);
        scratch.File("merges.txt", "h e\n");
        scratch.File("tokenizer_config.json", """{"tokenizer_class": 3}""");
        var error = Rejects(() => LmTokenizer.FromPretrained(scratch.Path));
        Assert.Equal(ErrorCodes.TokenizerValueInvalid, error.Code);
        Assert.Contains("\"tokenizer_class\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Tokenizer_json_value_of_the_wrong_type_is_LM0203_naming_the_file()
    {
        using var scratch = new ScratchFolder();
        string path = scratch.File("tokenizer.json", """{"model": {"type": 5, "vocab": {"a": 0}}}""");
        var error = Rejects(() => LmTokenizer.FromPretrained(scratch.Path));
        Assert.Equal(ErrorCodes.TokenizerFileMalformed, error.Code);
        Assert.Equal(path, error.File);
    }

    [Fact]
    public void Tokenizer_json_with_two_added_tokens_on_one_id_is_LM0203_naming_both()
    {
        // Found by afl in the tokenizer-json target: a mutated added token kept id 19, which the vocabulary's
        // <|endoftext|> also has, and building the id map threw ArgumentException.
        using var scratch = new ScratchFolder();
        scratch.File("tokenizer.json", """
            {"added_tokens": [{"id": 3, "content": "<|endoftext|>", "special": true}, {"id": 3, "content": "<x>", "special": true}],
             "normalizer": null, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
             "decoder": {"type": "ByteLevel"},
             "model": {"type": "BPE", "vocab": {"h": 0, "e": 1, "he": 2, "<|endoftext|>": 3}, "merges": ["h e"]}}
            """);
        var error = Rejects(() => LmTokenizer.FromPretrained(scratch.Path));
        Assert.Equal(ErrorCodes.TokenizerFileMalformed, error.Code);
        Assert.Contains("'<x>'", error.Message, StringComparison.Ordinal);
        Assert.Contains("'<|endoftext|>'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Vocab_json_with_a_repeated_key_is_LM0203()
    {
        using var scratch = new ScratchFolder();
        string path = scratch.File("vocab.json", """{"h": 0, "e": 1, "h": 2}""");
        scratch.File("merges.txt", "h e\n");
        var error = Rejects(() => LmTokenizer.FromPretrained(scratch.Path));
        Assert.Equal(ErrorCodes.TokenizerFileMalformed, error.Code);
        Assert.Equal(path, error.File);
    }

    [Fact]
    public void Config_json_with_a_repeated_key_is_LM0102()
    {
        var error = Rejects(() => ModelConfig.Parse("""{"model_type": "gpt2", "n_embd": 32, "n_embd": 64}"""));
        Assert.Equal(ErrorCodes.InvalidModelConfig, error.Code);
    }

    [Fact]
    public void Trainer_state_value_of_the_wrong_type_is_LM0430()
    {
        using var scratch = new ScratchFolder();
        string path = scratch.File("trainer_state.json", """{"global_step": "5"}""");
        var error = Rejects(() => TrainerState.Load(path));
        Assert.Equal(ErrorCodes.TrainerStateInvalid, error.Code);
        Assert.Equal(path, error.File);
    }

    [Fact]
    public void Trainer_state_with_a_repeated_key_is_LM0430()
    {
        using var scratch = new ScratchFolder();
        string path = scratch.File("trainer_state.json", """{"global_step": 5, "log_history": [{"step": 1, "step": 2}]}""");
        Assert.Equal(ErrorCodes.TrainerStateInvalid, Rejects(() => TrainerState.Load(path)).Code);
    }

    [Fact]
    public void Safetensors_header_with_an_unpaired_surrogate_in_a_name_is_LM0103()
    {
        // Found by afl in the safetensors-header target: the name "dty\ud800pe" threw InvalidOperationException.
        using var scratch = new ScratchFolder();
        byte[] header = Encoding.UTF8.GetBytes("""{"a\ud800":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""");
        string path = Path.Combine(scratch.Path, "model.safetensors");
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((ulong)header.Length), .. header, 0, 0, 0, 0]);
        var error = Rejects(() => SafeTensorsReader.ReadHeader(path));
        Assert.Equal(ErrorCodes.SafeTensorsBadHeader, error.Code);
        Assert.Contains("surrogate", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"model_type": "gpt2", "layer_norm_epsilon": 1e3085}""")]
    [InlineData("""{"model_type": "roberta", "layer_norm_eps": -1e905}""")]
    public void Config_json_with_a_number_beyond_double_is_LM0102(string json)
    {
        // Found by afl in config-json on the merged engine: 1e905 read as infinity, passed validation and then failed
        // to be written back (JsonReaderException, an access violation under instrumentation).
        var error = Rejects(() => ModelConfig.Parse(json));
        Assert.Equal(ErrorCodes.InvalidModelConfig, error.Code);
        Assert.Contains("not a finite number", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"model_type": "gpt2", "\ud800": 1}""")]
    [InlineData("""{"model_type": "gpt2", "torch_dtype": "\ud800"}""")]
    [InlineData("""{"model_type": "gp\ud800t2"}""")]
    public void Config_json_with_an_unpaired_surrogate_escape_is_LM0102(string json) =>
        Assert.Equal(ErrorCodes.InvalidModelConfig, Rejects(() => ModelConfig.Parse(json)).Code);

    [Theory]
    [InlineData("""{"global_step": 1, "\ud800": 2}""")]
    [InlineData("""{"log_history": [{"\ud800": 1, "step": 1}]}""")]
    [InlineData("""{"best_model_checkpoint": "\ud800"}""")]
    public void Trainer_state_with_an_unpaired_surrogate_escape_is_LM0430(string json)
    {
        using var scratch = new ScratchFolder();
        string path = scratch.File("trainer_state.json", json);
        var error = Rejects(() => TrainerState.Load(path));
        Assert.Equal(ErrorCodes.TrainerStateInvalid, error.Code);
        Assert.Equal(path, error.File);
    }

    [Theory]
    [InlineData("""{"\ud800": 1}""")]
    [InlineData("""{"cpu": "A\ud800"}""")]
    public void Rng_state_with_an_unpaired_surrogate_escape_is_LM0431(string json)
    {
        using var scratch = new ScratchFolder();
        string path = scratch.File("rng_state.json", json);
        Assert.Equal(ErrorCodes.RngStateInvalid, Rejects(() => ReadCpuState(path)).Code);
    }

    private static byte[]? ReadCpuState(string path) =>
        Trainer.RandomStateBytes(JsonFields.Read(path, ErrorCodes.RngStateInvalid), "cpu", FuzzTargets.CpuGeneratorStateBytes);

    private static JsonFields RngJson(byte[] cpu, string? collator = null)
    {
        var json = new System.Text.Json.Nodes.JsonObject { ["cpu"] = Convert.ToBase64String(cpu), ["data_seed"] = 42 };
        if (collator is not null) json["collator"] = collator;
        return new JsonFields(json, "rng_state.json", ErrorCodes.RngStateInvalid);
    }

    [Fact]
    public void Rng_state_check_accepts_the_state_libtorch_gives_and_its_size_is_the_fuzz_targets()
    {
        using Tensor state = get_rng_state();
        byte[] bytes = state.bytes.ToArray();
        Assert.Equal(FuzzTargets.CpuGeneratorStateBytes, bytes.Length);
        Assert.Equal(bytes, Trainer.RandomStateBytes(RngJson(bytes), "cpu", bytes.Length));
        Assert.Null(Trainer.RandomStateBytes(RngJson(bytes), "collator", bytes.Length));
    }

    [Fact]
    public void Rng_state_of_three_bytes_is_LM0431_before_libtorch_sees_it()
    {
        // libtorch's set_rng_state aborted the process (SIGABRT) on this state.
        var error = Rejects(() => Trainer.RandomStateBytes(RngJson([1, 2, 3]), "cpu", FuzzTargets.CpuGeneratorStateBytes));
        Assert.Equal(ErrorCodes.RngStateInvalid, error.Code);
        Assert.Contains("3 bytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rng_state_with_an_impossible_mersenne_position_is_LM0431()
    {
        using Tensor state = get_rng_state();
        byte[] bytes = state.bytes.ToArray();
        BitConverter.TryWriteBytes(bytes.AsSpan(8), 0); // left = 0: libtorch's mt19937::is_valid fails
        Assert.Equal(ErrorCodes.RngStateInvalid, Rejects(() => Trainer.RandomStateBytes(RngJson(bytes), "cpu", bytes.Length)).Code);
    }

    [Fact]
    public void Rng_state_whose_engine_would_read_past_its_words_is_LM0431()
    {
        using Tensor state = get_rng_state();
        byte[] bytes = state.bytes.ToArray();
        // left 600 and next 100 each pass libtorch's own checks, but the engine would read state[100 .. 698].
        BitConverter.TryWriteBytes(bytes.AsSpan(8), 600);
        BitConverter.TryWriteBytes(bytes.AsSpan(16), 100UL);
        var error = Rejects(() => Trainer.RandomStateBytes(RngJson(bytes), "cpu", bytes.Length));
        Assert.Equal(ErrorCodes.RngStateInvalid, error.Code);
        Assert.Contains("left 600, next 100", error.Message, StringComparison.Ordinal);
        // The same fields within the array (next + left - 1 = 624) pass.
        BitConverter.TryWriteBytes(bytes.AsSpan(16), 25UL);
        Assert.Equal(bytes, Trainer.RandomStateBytes(RngJson(bytes), "cpu", bytes.Length));
    }

    [Fact]
    public void Rng_state_collator_that_is_not_base64_is_LM0431()
    {
        using Tensor state = get_rng_state();
        var error = Rejects(() => Trainer.RandomStateBytes(RngJson(state.bytes.ToArray(), "not base64!"), "collator", state.bytes.Length));
        Assert.Equal(ErrorCodes.RngStateInvalid, error.Code);
        Assert.Contains("collator", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rng_state_file_with_a_repeated_key_is_LM0431()
    {
        using var scratch = new ScratchFolder();
        string path = scratch.File("rng_state.json", """{"cpu": "AAAA", "cpu": "BBBB"}""");
        Assert.Equal(ErrorCodes.RngStateInvalid, Rejects(() => ReadCpuState(path)).Code);
    }

    [Fact]
    public void Restored_rng_state_reproduces_the_same_draws()
    {
        // The check hands libtorch exactly the bytes it saved: a restore replays the generator. A private
        // generator (same CPU state layout as the global one) keeps parallel tests out of the way.
        using var generator = new Generator(1234);
        using (Tensor warmUp = rand(3, generator: generator)) { }
        using Tensor saved = generator.get_state();
        byte[] cpu = Trainer.RandomStateBytes(RngJson(saved.bytes.ToArray()), "cpu", saved.bytes.Length)!;
        using Tensor first = rand(4, generator: generator);
        using (Tensor restored = tensor(cpu, ScalarType.Byte)) generator.set_state(restored);
        using Tensor second = rand(4, generator: generator);
        Assert.Equal(first.data<float>().ToArray(), second.data<float>().ToArray());
    }
}
