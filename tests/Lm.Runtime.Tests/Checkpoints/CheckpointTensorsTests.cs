using System.Text.Json;
using Lm.Runtime.Checkpoints;
using Lm.Runtime.Errors;
using Lm.Runtime.Tests.Hub;

namespace Lm.Runtime.Tests.Checkpoints;

public sealed class CheckpointTensorsTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("lm-shards-").FullName;

    [Theory]
    [InlineData("{victim}/model.safetensors")]
    [InlineData("../victim/model.safetensors")]
    [InlineData("sub/../../victim/model.safetensors")]
    [InlineData("..")]
    [InlineData("C:model.safetensors")]
    [InlineData("..\\victim\\model.safetensors")]
    [InlineData("model\u0000.safetensors")]
    public void Shard_named_by_a_local_index_must_be_a_file_in_the_model_folder(string shard)
    {
        string victim = FolderDigest.CreateVictim(Path.Combine(_root, "victim"));
        string before = FolderDigest.Of(victim);
        string model = Directory.CreateDirectory(Path.Combine(_root, "model")).FullName;
        string hostile = shard.Replace("{victim}", victim, StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(model, CheckpointTensors.ShardIndexFile),
            $"{{\"weight_map\": {{\"transformer.wte.weight\": {JsonSerializer.Serialize(hostile)}}}}}");

        var error = Assert.Throws<LmException>(() => CheckpointTensors.Open(model));

        Assert.Equal(ErrorCodes.ShardIndexInvalid, error.Code);
        Assert.Equal(Path.Combine(model, CheckpointTensors.ShardIndexFile), error.File);
        Assert.Contains("not a shard file name", error.Message);
        Assert.Equal(before, FolderDigest.Of(victim));
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
