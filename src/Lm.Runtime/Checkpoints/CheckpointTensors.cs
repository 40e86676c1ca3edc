using System.Text.Json;
using Lm.Runtime.Errors;
using Lm.Runtime.Files;
using static TorchSharp.torch;

namespace Lm.Runtime.Checkpoints;

/// <summary>
/// The tensors of a Hugging Face model folder: <c>model.safetensors</c>, or the shards listed by
/// <c>model.safetensors.index.json</c>. Every header is read and validated up front; tensor data is read one
/// tensor at a time on request, so loading never holds a second copy of the model. A folder that only has pickled
/// weights (<c>pytorch_model.bin</c>) is refused: lm-tune never executes pickles.
/// </summary>
public sealed class CheckpointTensors : IDisposable
{
    /// <summary>The single-file weights name HF writes.</summary>
    public const string WeightsFile = "model.safetensors";

    /// <summary>The index HF writes next to sharded weights.</summary>
    public const string ShardIndexFile = "model.safetensors.index.json";

    private readonly Dictionary<string, (string File, SafeTensorsHeader Header, SafeTensorInfo Info)> entries;
    private readonly Dictionary<string, FileStream> streams = new(StringComparer.Ordinal);

    private CheckpointTensors(Dictionary<string, (string, SafeTensorsHeader, SafeTensorInfo)> entries)
    {
        this.entries = entries;
    }

    /// <summary>Names of all tensors in the checkpoint.</summary>
    public IReadOnlyCollection<string> Names => entries.Keys;

    /// <summary>The header entry (dtype, shape, offsets) of <paramref name="name"/>.</summary>
    public SafeTensorInfo Info(string name) => entries[name].Info;

    /// <summary>Opens the weights of <paramref name="folder"/>; throws LM0107, LM0108 or LM0111 when there are none usable.</summary>
    public static CheckpointTensors Open(string folder)
    {
        string single = Path.Combine(folder, WeightsFile);
        string index = Path.Combine(folder, ShardIndexFile);
        var result = new Dictionary<string, (string, SafeTensorsHeader, SafeTensorInfo)>(StringComparer.Ordinal);
        if (File.Exists(single))
        {
            var header = SafeTensorsReader.ReadHeader(single);
            foreach (var info in header.Tensors) result[info.Name] = (single, header, info);
        }
        else if (File.Exists(index))
        {
            var headers = new Dictionary<string, SafeTensorsHeader>(StringComparer.Ordinal);
            foreach (var (name, shard) in ReadWeightMap(index))
            {
                string path = Path.Combine(folder, shard);
                if (!headers.TryGetValue(path, out var header))
                {
                    if (!File.Exists(path))
                        throw new LmException(ErrorCodes.ShardIndexInvalid,
                            $"{index} lists shard '{shard}', which is not in {folder}.") { File = index };
                    headers[path] = header = SafeTensorsReader.ReadHeader(path);
                }
                var info = header.Find(name) ?? throw new LmException(ErrorCodes.ShardIndexInvalid,
                    $"{index} puts '{name}' in '{shard}', but that file has no such tensor.") { File = index };
                result[name] = (path, header, info);
            }
        }
        else if (File.Exists(Path.Combine(folder, "pytorch_model.bin")) || File.Exists(Path.Combine(folder, "pytorch_model.bin.index.json")))
        {
            throw new LmException(ErrorCodes.PickleCheckpointRefused,
                $"{folder} has only pytorch_model.bin, a Python pickle, which lm-tune never executes. Convert it once with Python: " +
                "`from transformers import AutoModel; AutoModel.from_pretrained(FOLDER).save_pretrained(FOLDER, safe_serialization=True)` " +
                "(use the AutoModelForCausalLM / AutoModelForMaskedLM class of the model), which writes model.safetensors.")
            { File = Path.Combine(folder, "pytorch_model.bin") };
        }
        else
        {
            throw new LmException(ErrorCodes.ModelFolderUnreadable,
                $"{folder} has no {WeightsFile} (nor {ShardIndexFile}).") { File = folder };
        }
        return new CheckpointTensors(result);
    }

    /// <summary>Reads tensor <paramref name="name"/> into a new CPU tensor of its file dtype (the caller owns it).</summary>
    public Tensor Read(string name)
    {
        var (file, header, info) = entries[name];
        if (!streams.TryGetValue(file, out var stream))
        {
            stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            streams[file] = stream;
        }
        return SafeTensorsReader.ReadTensor(stream, header, info, file);
    }

    public void Dispose()
    {
        foreach (var stream in streams.Values) stream.Dispose();
        streams.Clear();
    }

    private static List<(string Name, string Shard)> ReadWeightMap(string index)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllText(index));
        }
        catch (JsonException e)
        {
            throw new LmException(ErrorCodes.ShardIndexInvalid, $"{index} is not valid JSON: {e.Message}", e) { File = index };
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new LmException(ErrorCodes.ShardIndexInvalid, $"{index} has no weight_map object.") { File = index };
            var result = new List<(string, string)>();
            foreach (var entry in map.EnumerateObject())
            {
                string? shard = entry.Value.ValueKind == JsonValueKind.String ? entry.Value.GetString() : null;
                // Shards are plain file names next to the index; anything else could point outside the folder.
                if (!SafePath.IsName(shard))
                    throw new LmException(ErrorCodes.ShardIndexInvalid,
                        $"{index} maps '{SafePath.Printable(entry.Name)}' to '{SafePath.Printable(entry.Value.GetRawText())}', which is not a shard file name in its folder.") { File = index };
                result.Add((entry.Name, shard));
            }
            return result;
        }
    }
}
