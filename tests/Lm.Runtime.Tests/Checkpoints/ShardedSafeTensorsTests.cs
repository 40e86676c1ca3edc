using System.Text.Json.Nodes;
using Lm.Runtime.Checkpoints;
using Lm.Runtime.Errors;
using Lm.Runtime.Models;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Checkpoints;

/// <summary>
/// Sharded weights as save_pretrained writes them (huggingface_hub's split_torch_state_dict_into_shards) and as
/// from_pretrained reads them back.
/// </summary>
[Collection(TorchRandomCollection.Name)]
public sealed class ShardedSafeTensorsTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("lm-shards-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Theory]
    [InlineData("5GB", 5_000_000_000L)]
    [InlineData("500MB", 500_000_000L)]
    [InlineData("10KB", 10_000L)]
    [InlineData("2GiB", 2_147_483_648L)]
    [InlineData("3MiB", 3_145_728L)]
    [InlineData("10KiB", 10_240L)]
    [InlineData("5Gb", 625_000_000L)]
    [InlineData("5gb", 625_000_000L)]
    [InlineData("8kb", 1_000L)]
    [InlineData("12345", 12_345L)]
    public void Sizes_parse_as_convert_file_size_to_int(string text, long bytes) =>
        Assert.Equal(bytes, ShardedSafeTensors.ParseSize(text));

    [Theory]
    [InlineData("1.5GB")]
    [InlineData("5 GB")]
    [InlineData("5TB")]
    [InlineData("GB")]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("0MB")]
    [InlineData("five")]
    [InlineData("99999999999GB")]
    public void Other_sizes_are_LM0160(string text)
    {
        var error = Assert.Throws<LmException>(() => ShardedSafeTensors.ParseSize(text));
        Assert.Equal(ErrorCodes.MaxShardSizeInvalid, error.Code);
        Assert.Contains(text, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Split_is_huggingface_hubs_greedy_order()
    {
        // Limit 8: a+b fill the first shard; c opens the next; d (10) is over the limit and gets a shard of its own,
        // listed before the open one; e joins c; f would make 9 and starts the last shard.
        (string, long)[] tensors = [("a", 4), ("b", 4), ("c", 4), ("d", 10), ("e", 2), ("f", 3)];
        var shards = ShardedSafeTensors.Split(tensors, 8);
        Assert.Equal(
            [
                ("model-00001-of-00004.safetensors", "a b"), ("model-00002-of-00004.safetensors", "d"),
                ("model-00003-of-00004.safetensors", "c e"), ("model-00004-of-00004.safetensors", "f"),
            ],
            shards.Select(s => (s.File, string.Join(" ", s.Names))));
    }

    [Fact]
    public void Split_that_fits_is_one_model_safetensors()
    {
        var shards = ShardedSafeTensors.Split([("a", 4), ("b", 4)], 8);
        Assert.Equal([("model.safetensors", "a b")], shards.Select(s => (s.File, string.Join(" ", s.Names))));
    }

    [Fact]
    public void Tiny_llama_saved_in_shards_lists_every_tensor_and_loads_back_byte_for_byte()
    {
        manual_seed(5);
        var config = new LlamaConfig
        {
            VocabSize = 97, HiddenWidth = 32, IntermediateSize = 48, NumHiddenLayers = 2, NumAttentionHeads = 4,
            NumKeyValueHeads = 2, MaxPositionEmbeddings = 64, TieWordEmbeddings = false,
        };
        using var model = LanguageModel.Create(config, seed: 5);
        var weights = model.StateDict().ToList();
        long total = weights.Sum(w => w.Value.numel() * 4);

        // Embedding and head: 97 x 32 floats = 12,416 bytes each; a layer's projections 4,096 (q, o), 2,048 (k, v),
        // 6,144 (gate, up, down); norms 128. With a 13,000-byte limit each shard takes what fits, in state-dict order.
        string folder = Path.Combine(_root, "sharded");
        PretrainedModel.Save(model, folder, 13_000);

        JsonObject index = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "model.safetensors.index.json")))!.AsObject();
        Assert.Equal(total, index["metadata"]!["total_size"]!.GetValue<long>());
        var weightMap = index["weight_map"]!.AsObject().ToDictionary(p => p.Key, p => p.Value!.GetValue<string>());
        Assert.Equal(weights.Select(w => w.Key).Order(StringComparer.Ordinal), weightMap.Keys);

        // Walking the state dict by hand: a new shard starts whenever the next tensor would pass 13,000 bytes.
        var expectedShards = new List<List<string>> { new() };
        long filled = 0;
        foreach ((string name, Tensor tensor) in weights)
        {
            long bytes = tensor.numel() * 4;
            if (filled + bytes > 13_000)
            {
                expectedShards.Add([]);
                filled = 0;
            }

            expectedShards[^1].Add(name);
            filled += bytes;
        }

        int count = expectedShards.Count;
        Assert.True(count >= 5, $"{count} shards");
        for (int i = 0; i < count; i++)
        {
            string file = $"model-{i + 1:D5}-of-{count:D5}.safetensors";
            Assert.All(expectedShards[i], name => Assert.Equal(file, weightMap[name]));
        }

        Assert.Equal(
            ["config.json", "generation_config.json", .. Enumerable.Range(1, count).Select(i => $"model-{i:D5}-of-{count:D5}.safetensors"), "model.safetensors.index.json"],
            Directory.GetFiles(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        string indexText = File.ReadAllText(Path.Combine(folder, "model.safetensors.index.json"));
        Assert.StartsWith("{\n  \"metadata\": {\n    \"total_size\": " + total + "\n  },\n  \"weight_map\": {\n    \"lm_head.weight\": \"model-", indexText);
        Assert.EndsWith("}\n", indexText);

        using var loaded = PretrainedModel.Load(folder);
        var reloaded = loaded.StateDict();
        foreach ((string name, Tensor tensor) in weights)
        {
            Assert.Equal(tensor.data<float>().ToArray(), reloaded[name].data<float>().ToArray());
        }

        // Saving again unsharded replaces the shards and the index with one file, and the reverse drops the file.
        PretrainedModel.Save(model, folder);
        Assert.Equal(["config.json", "generation_config.json", "model.safetensors"], Directory.GetFiles(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        PretrainedModel.Save(model, folder, 13_000);
        Assert.DoesNotContain("model.safetensors", Directory.GetFiles(folder).Select(Path.GetFileName));
    }

    [Fact]
    public void Training_arguments_default_to_5GB_and_reject_a_bad_size_naming_the_argument()
    {
        Assert.Equal(5_000_000_000L, new Lm.Runtime.Training.TrainingArguments().MaxShardSizeBytes);
        var error = Assert.Throws<LmException>(() => new Lm.Runtime.Training.TrainingArguments { MaxShardSize = "5 GB" }.Validate());
        Assert.Equal(ErrorCodes.MaxShardSizeInvalid, error.Code);
        Assert.StartsWith("max_shard_size ", error.Message, StringComparison.Ordinal);
    }
}
