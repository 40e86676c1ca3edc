using System.Text.Json;
using System.Text.Json.Nodes;
using Lm.Runtime.Checkpoints;
using Lm.Runtime.Errors;
using TorchSharp;
using static TorchSharp.torch;
using Lm.Runtime.Files;

namespace Lm.Runtime.Models;

/// <summary>
/// Loads and saves Hugging Face model folders as <c>from_pretrained</c> / <c>save_pretrained</c> do:
/// config.json, model.safetensors (or shards with an index), and generation_config.json for causal LMs.
/// </summary>
public static class PretrainedModel
{
    /// <summary>The config file name.</summary>
    public const string ConfigFile = "config.json";

    /// <summary>The generation config HF writes for models that can generate.</summary>
    public const string GenerationConfigFile = "generation_config.json";

    /// <summary>
    /// Loads the model in <paramref name="folder"/> onto <paramref name="device"/> (<c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>,
    /// <c>auto</c>) in <paramref name="dtype"/> (<c>float32</c>, <c>bfloat16</c>, <c>auto</c>). The model is in eval mode.
    /// </summary>
    public static LanguageModel Load(string folder, string device = "cpu", string dtype = "float32")
    {
        var config = ReadConfig(folder);
        return Load(folder, config, ModelDevice.Parse(device), ModelDtype.Parse(dtype, config));
    }

    /// <summary>Loads the model in <paramref name="folder"/> onto a device in a dtype.</summary>
    public static LanguageModel Load(string folder, Device device, ScalarType dtype) =>
        Load(folder, ReadConfig(folder), device, dtype);

    private static LanguageModel Load(string folder, ModelConfig config, Device device, ScalarType dtype)
    {
        if (dtype is not (ScalarType.Float32 or ScalarType.BFloat16))
            throw new LmException(ErrorCodes.UnsupportedModelDtype, $"Model dtype {dtype} is not supported; use float32 or bfloat16.");
        var model = LanguageModel.Build(config, initialize: false);
        try
        {
            using (var checkpoint = CheckpointTensors.Open(folder))
                LoadWeights(model, checkpoint, folder);
            model.GenerationConfig = ReadGenerationConfig(folder);
            model.eval();
            if (dtype != ScalarType.Float32 || device.type != DeviceType.CPU) model.to(device, dtype);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Reads <c>config.json</c> of a model folder.</summary>
    public static ModelConfig ReadConfig(string folder)
    {
        if (!Directory.Exists(folder))
            throw new LmException(ErrorCodes.ModelFolderUnreadable, $"Model folder {folder} does not exist.") { File = folder };
        string path = Path.Combine(folder, ConfigFile);
        if (!File.Exists(path))
            throw new LmException(ErrorCodes.ModelFolderUnreadable, $"{folder} has no {ConfigFile}; it is not a Hugging Face model folder.") { File = path };
        return ModelConfig.Load(path);
    }

    /// <summary>
    /// Saves <paramref name="model"/> into <paramref name="folder"/> as <c>save_pretrained</c> does: config.json with
    /// <c>architectures</c>, <c>torch_dtype</c> and <c>transformers_version</c>; model.safetensors with tied weights stored
    /// once under their owner's name and <c>{"format":"pt"}</c> metadata; generation_config.json for causal LMs.
    /// Files are written and flushed to disk in a staging folder inside <paramref name="folder"/>, then moved in
    /// (config.json last), so a reader never sees a config with half its weights and nothing is written beside the
    /// folder. The staging folder's name carries this process's identity: one left by a killed save is removed by
    /// the next save into the folder. Other files in the folder (tokenizer, results) are kept. Weights over
    /// max_shard_size (5 GB here, HF's default; see the overload) are written as shards with
    /// model.safetensors.index.json (<see cref="ShardedSafeTensors"/>).
    /// </summary>
    public static void Save(LanguageModel model, string folder) => Save(model, folder, ShardedSafeTensors.ParseSize(ShardedSafeTensors.DefaultMaxShardSize));

    /// <inheritdoc cref="Save(LanguageModel, string)"/>
    public static void Save(LanguageModel model, string folder, long maxShardSize)
    {
        string target = Path.GetFullPath(folder);
        string? staging = null;
        try
        {
            Directory.CreateDirectory(target);
            StagingFolders.RemoveStale(target);
            staging = Path.Combine(target, StagingFolders.NewModelStagingName());
            Directory.CreateDirectory(staging);
            var weights = model.StateDict();
            ScalarType dtype = weights.Values.First().dtype;
            var config = model.Config with
            {
                Architectures = [model.ArchitectureName],
                TorchDtype = ModelDtype.ToHfName(dtype),
                TransformersVersion = ModelConfig.HfTransformersVersion,
            };
            var files = ShardedSafeTensors.Write(staging, weights.ToList(), maxShardSize).ToList();
            if (model.Objective == TrainingObjective.CausalLm)
            {
                File.WriteAllText(Path.Combine(staging, GenerationConfigFile), GenerationConfigJson(model));
                files.Add(GenerationConfigFile);
            }
            config.Save(Path.Combine(staging, ConfigFile));
            files.Add(ConfigFile);
            foreach (string file in files) DurableFiles.Flush(Path.Combine(staging, file));
            Publish(staging, target, files);
            DurableFiles.Flush(target);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LmException(ErrorCodes.CheckpointWriteFailed, $"Cannot save the model to {folder}: {e.Message}", e) { File = folder };
        }
        finally
        {
            if (staging is not null && Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>
    /// generation_config.json as HF writes it (<c>GenerationConfig.save_pretrained</c>, which <c>save_pretrained</c> calls for
    /// every model that can generate): the one the model was loaded with, else <c>GenerationConfig.from_model_config</c>
    /// (bos/eos/pad token ids, <c>_from_model_config: true</c>); either way only the values that differ from
    /// <c>GenerationConfig()</c>'s defaults (HF's <c>to_diff_dict</c>), plus <c>transformers_version</c>, keys sorted.
    /// </summary>
    public static string GenerationConfigJson(LanguageModel model)
    {
        JsonObject generation;
        if (model.GenerationConfig is not null)
        {
            generation = model.GenerationConfig.DeepClone().AsObject();
            foreach (var (key, value) in generation.ToArray())
                if (HfGenerationDefaults.TryGetValue(key, out var defaultValue) && SameJsonValue(value, defaultValue))
                    generation.Remove(key);
        }
        else
        {
            generation = new JsonObject { ["_from_model_config"] = true };
            if (model.Config is Gpt2Config gpt2)
            {
                if (gpt2.BosTokenId is int bos) generation["bos_token_id"] = bos;
                if (gpt2.EosTokenId is int eos) generation["eos_token_id"] = eos;
            }
            else if (model.Config is LlamaFamilyConfig llama)
            {
                // from_model_config copies the special-token ids that are set; a list of eos ids stays a list.
                if (llama.BosTokenId is int bos) generation["bos_token_id"] = bos;
                if (llama.EosTokenId is not null) generation["eos_token_id"] = llama.EosTokenId.DeepClone();
                if (llama.PadTokenId is int pad) generation["pad_token_id"] = pad;
            }
        }
        generation["transformers_version"] = ModelConfig.HfTransformersVersion;
        return PythonJson.Serialize(generation) + "\n";
    }

    /// <summary>
    /// <c>GenerationConfig()</c>'s defaults in transformers 4.46 for the keys it defines: a value equal to its default is
    /// not written, as HF's <c>to_diff_dict</c> compares each attribute with a fresh config's. Keys HF does not define
    /// (a newer version's, a custom one) are written as read.
    /// </summary>
    private static readonly Dictionary<string, JsonNode?> HfGenerationDefaults = new(StringComparer.Ordinal)
    {
        ["max_length"] = 20, ["max_new_tokens"] = null, ["min_length"] = 0, ["min_new_tokens"] = null,
        ["early_stopping"] = false, ["max_time"] = null, ["stop_strings"] = null,
        ["do_sample"] = false, ["num_beams"] = 1, ["num_beam_groups"] = 1, ["penalty_alpha"] = null, ["dola_layers"] = null,
        ["use_cache"] = true, ["cache_implementation"] = null, ["cache_config"] = null, ["return_legacy_cache"] = null,
        ["temperature"] = 1.0, ["top_k"] = 50, ["top_p"] = 1.0, ["min_p"] = null, ["typical_p"] = 1.0,
        ["epsilon_cutoff"] = 0.0, ["eta_cutoff"] = 0.0, ["diversity_penalty"] = 0.0, ["repetition_penalty"] = 1.0,
        ["encoder_repetition_penalty"] = 1.0, ["length_penalty"] = 1.0, ["no_repeat_ngram_size"] = 0,
        ["bad_words_ids"] = null, ["force_words_ids"] = null, ["renormalize_logits"] = false, ["constraints"] = null,
        ["forced_bos_token_id"] = null, ["forced_eos_token_id"] = null, ["remove_invalid_values"] = false,
        ["exponential_decay_length_penalty"] = null, ["suppress_tokens"] = null, ["begin_suppress_tokens"] = null,
        ["forced_decoder_ids"] = null, ["sequence_bias"] = null, ["token_healing"] = false, ["guidance_scale"] = null,
        ["low_memory"] = null, ["watermarking_config"] = null, ["num_return_sequences"] = 1,
        ["output_attentions"] = false, ["output_hidden_states"] = false, ["output_scores"] = false, ["output_logits"] = null,
        ["return_dict_in_generate"] = false, ["pad_token_id"] = null, ["bos_token_id"] = null, ["eos_token_id"] = null,
        ["encoder_no_repeat_ngram_size"] = 0, ["decoder_start_token_id"] = null, ["num_assistant_tokens"] = 20,
        ["num_assistant_tokens_schedule"] = "constant", ["assistant_confidence_threshold"] = 0.4,
        ["prompt_lookup_num_tokens"] = null, ["max_matching_ngram_size"] = null, ["_from_model_config"] = false,
    };

    /// <summary>Python's <c>==</c> on JSON values: numbers by value (<c>1 == 1.0</c>), null, booleans and strings as such.</summary>
    private static bool SameJsonValue(JsonNode? value, JsonNode? defaultValue)
    {
        if (value is null || defaultValue is null) return value is null && defaultValue is null;
        if (value is not JsonValue v || defaultValue is not JsonValue d) return false;
        var (kind, defaultKind) = (v.GetValueKind(), d.GetValueKind());
        if (kind == JsonValueKind.Number && defaultKind == JsonValueKind.Number) return NumberOf(v) == NumberOf(d);
        // Python's True == 1 holds too, but no default here is a bool where a number could stand, or the reverse.
        if (kind != defaultKind) return false;
        return kind switch
        {
            JsonValueKind.String => v.GetValue<string>() == d.GetValue<string>(),
            _ => true, // true/true or false/false
        };
    }

    private static double NumberOf(JsonValue number) =>
        double.Parse(number.ToJsonString(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Moves the staged files into <paramref name="target"/>, in order (config.json last).</summary>
    private static void Publish(string staging, string target, IReadOnlyList<string> files)
    {
        // Weights from an earlier sharded save would shadow nothing but confuse readers; HF removes them too.
        // Sharded weights also replace an earlier single file, which readers would otherwise prefer to the index.
        var stale = Directory.EnumerateFiles(target, "model-*-of-*.safetensors").Append(Path.Combine(target, CheckpointTensors.ShardIndexFile));
        if (files.Contains(CheckpointTensors.ShardIndexFile)) stale = stale.Append(Path.Combine(target, CheckpointTensors.WeightsFile));
        foreach (string file in stale.ToList())
            File.Delete(file);
        foreach (string file in files) File.Move(Path.Combine(staging, file), Path.Combine(target, file), overwrite: true);
    }

    /// <summary>
    /// generation_config.json, its values checked (LM0122 naming the key): token ids are whole numbers (HF's
    /// <c>eos_token_id</c> may be a list; an id beyond the vocabulary only never matches, as in HF), lengths and counts whole numbers from 0, sampling
    /// settings finite numbers, flags true or false. Keys lm-tune does not use are kept as read.
    /// </summary>
    internal static JsonObject? ReadGenerationConfig(string folder)
    {
        string path = Path.Combine(folder, GenerationConfigFile);
        if (!File.Exists(path)) return null;
        var json = JsonFields.Read(path, ErrorCodes.InvalidGenerationConfig);
        foreach (string key in (string[])["bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id"])
            json.LongOrList(key);
        foreach (string key in (string[])["max_length", "max_new_tokens", "min_length", "min_new_tokens", "top_k", "num_beams", "num_return_sequences", "no_repeat_ngram_size"])
            json.Long(key, min: 0);
        foreach (string key in (string[])["temperature", "top_p", "typical_p", "repetition_penalty", "length_penalty"])
            json.Double(key, finite: true);
        foreach (string key in (string[])["do_sample", "early_stopping", "use_cache"])
        {
            // HF writes early_stopping as true/false or the string "never".
            if (key == "early_stopping" && json.Json[key] is JsonValue v && v.GetValueKind() == JsonValueKind.String) continue;
            json.Bool(key);
        }
        return json.Json;
    }

    /// <summary>Copies every parameter from the checkpoint, after checking names and shapes of all of them.</summary>
    private static void LoadWeights(LanguageModel model, CheckpointTensors checkpoint, string folder)
    {
        var parameters = model.StateDict();
        var plan = CheckpointKeyMap.Plan(model, checkpoint.Names);
        if (plan.Missing.Count > 0 || plan.Unexpected.Count > 0)
            throw new LmException(ErrorCodes.CheckpointKeysMismatch,
                $"The weights in {folder} do not fit {model.ArchitectureName}:" +
                Describe(" missing", plan.Missing) + Describe(" unexpected", plan.Unexpected) +
                ". Check that config.json belongs to these weights.") { File = folder };
        foreach (var (name, source) in plan.Sources)
        {
            var info = checkpoint.Info(source);
            var parameter = parameters[name];
            if (!info.Shape.SequenceEqual(parameter.shape))
                throw new LmException(ErrorCodes.CheckpointShapeMismatch,
                    $"{folder}: '{source}' has shape [{string.Join(", ", info.Shape)}] but {name} of {model.ArchitectureName} needs [{string.Join(", ", parameter.shape)}].")
                { File = folder };
            if (info.ScalarType is not (ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float64))
                throw new LmException(ErrorCodes.CheckpointShapeMismatch,
                    $"{folder}: '{source}' holds {info.Dtype} values but {name} is a floating-point parameter.") { File = folder };
        }
        using var noGrad = no_grad();
        foreach (var (name, source) in plan.Sources)
        {
            using var value = checkpoint.Read(source);
            parameters[name].copy_(value);
        }
    }

    private static string Describe(string label, IReadOnlyList<string> keys) => keys.Count == 0
        ? ""
        : $"{label} ({keys.Count}): {string.Join(", ", keys.Take(20))}{(keys.Count > 20 ? ", …" : "")}";
}
