using System.Globalization;
using System.Text.Json.Nodes;
using Lm.Runtime.Errors;
using static TorchSharp.torch;

namespace Lm.Runtime.Checkpoints;

/// <summary>
/// Model weights written as <c>save_pretrained</c> writes them: one <c>model.safetensors</c> while the state dict fits
/// in <c>max_shard_size</c>, else shards <c>model-00001-of-00003.safetensors</c> … cut by huggingface_hub's
/// <c>split_torch_state_dict_into_shards</c>, with <c>model.safetensors.index.json</c> mapping every tensor to its
/// shard (<c>metadata.total_size</c>: the bytes of all tensors).
/// </summary>
public static class ShardedSafeTensors
{
    /// <summary><c>save_pretrained</c>'s default <c>max_shard_size</c>, "5GB".</summary>
    public const string DefaultMaxShardSize = "5GB";

    /// <summary>
    /// transformers' <c>convert_file_size_to_int</c>: a whole number of bytes, or a whole number followed by GiB, MiB,
    /// KiB (powers of 2), GB, MB or KB (powers of 10; a lowercase final "b", as in "5Gb", means bits: divided by 8).
    /// Anything else (a fraction, a space, another unit, a size below one byte) is LM0160.
    /// </summary>
    public static long ParseSize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long bytes) && bytes > 0)
        {
            return bytes;
        }

        (string Suffix, long Multiplier, bool Bits)[] units =
        [
            ("GIB", 1L << 30, false), ("MIB", 1L << 20, false), ("KIB", 1L << 10, false),
            ("GB", 1_000_000_000L, true), ("MB", 1_000_000L, true), ("KB", 1_000L, true),
        ];
        foreach ((string suffix, long multiplier, bool bits) in units)
        {
            if (text.ToUpperInvariant().EndsWith(suffix, StringComparison.Ordinal))
            {
                string number = text[..^suffix.Length];
                if (long.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out long count)
                    && count <= long.MaxValue / multiplier)
                {
                    long size = count * multiplier;
                    size = bits && text.EndsWith('b') ? size / 8 : size;
                    if (size > 0)
                    {
                        return size;
                    }
                }

                break;
            }
        }

        throw new LmException(ErrorCodes.MaxShardSizeInvalid,
            $"max_shard_size '{text}' is not a size: use a whole number of bytes or a whole number followed by GB, MB, KB, GiB, MiB or KiB " +
            $"(\"{DefaultMaxShardSize}\", \"500MB\", \"2GiB\"), above zero.");
    }

    /// <summary>
    /// huggingface_hub's <c>split_state_dict_into_shards_factory</c>, in state-dict order: a tensor larger than the
    /// limit gets a shard of its own (placed before the shard being filled); a tensor that would take the current
    /// shard over the limit closes it first. Returns the file name of each shard with its tensor names, in order;
    /// one shard is named <c>model.safetensors</c>.
    /// </summary>
    public static IReadOnlyList<(string File, IReadOnlyList<string> Names)> Split(IReadOnlyList<(string Name, long Bytes)> tensors, long maxShardSize)
    {
        var shards = new List<List<string>>();
        var current = new List<string>();
        long currentSize = 0;
        foreach ((string name, long bytes) in tensors)
        {
            if (bytes > maxShardSize)
            {
                shards.Add([name]);
                continue;
            }

            if (currentSize + bytes > maxShardSize)
            {
                shards.Add(current);
                current = [];
                currentSize = 0;
            }

            current.Add(name);
            currentSize += bytes;
        }

        if (current.Count > 0)
        {
            shards.Add(current);
        }

        if (shards.Count <= 1)
        {
            return [(CheckpointTensors.WeightsFile, tensors.Select(t => t.Name).ToList())];
        }

        return shards.Select((names, i) => (ShardName(i + 1, shards.Count), (IReadOnlyList<string>)names)).ToList();
    }

    /// <summary><c>model-00002-of-00003.safetensors</c>.</summary>
    public static string ShardName(int index, int count) =>
        string.Create(CultureInfo.InvariantCulture, $"model-{index:D5}-of-{count:D5}.safetensors");

    /// <summary>
    /// Writes <paramref name="weights"/> (in state-dict order) into <paramref name="folder"/>, sharded when they exceed
    /// <paramref name="maxShardSize"/> bytes; returns the names of the files written, the index last.
    /// </summary>
    public static IReadOnlyList<string> Write(string folder, IReadOnlyList<KeyValuePair<string, Tensor>> weights, long maxShardSize)
    {
        var sizes = weights.Select(w => (w.Key, w.Value.numel() * w.Value.element_size())).ToList();
        var byName = weights.ToDictionary(w => w.Key, w => w.Value, StringComparer.Ordinal);
        var shards = Split(sizes, maxShardSize);
        var files = new List<string>();
        foreach ((string file, IReadOnlyList<string> names) in shards)
        {
            SafeTensorsWriter.Write(Path.Combine(folder, file), names.Select(n => new KeyValuePair<string, Tensor>(n, byName[n])));
            files.Add(file);
        }

        if (shards.Count > 1)
        {
            var weightMap = new JsonObject();
            foreach ((string file, IReadOnlyList<string> names) in shards)
            {
                foreach (string name in names)
                {
                    weightMap[name] = file;
                }
            }

            var index = new JsonObject
            {
                ["metadata"] = new JsonObject { ["total_size"] = sizes.Sum(s => s.Item2) },
                ["weight_map"] = weightMap,
            };

            // save_pretrained: json.dumps(index, indent=2, sort_keys=True) + "\n".
            File.WriteAllText(Path.Combine(folder, CheckpointTensors.ShardIndexFile), PythonJson.Serialize(index) + "\n");
            files.Add(CheckpointTensors.ShardIndexFile);
        }

        return files;
    }
}
