namespace Lm.Runtime.Errors;

public static partial class ErrorCodes
{
    /// <summary>config.json names a <c>model_type</c> lm-tune does not implement.</summary>
    public const string UnsupportedModelType = "LM0101";

    /// <summary>config.json is not valid JSON or holds values a model cannot be built from.</summary>
    public const string InvalidModelConfig = "LM0102";

    /// <summary>A safetensors header is unreadable: length beyond the file, too large, not UTF-8, bad JSON or bad structure.</summary>
    public const string SafeTensorsBadHeader = "LM0103";

    /// <summary>A safetensors tensor's data offsets are out of range, overlap, leave gaps or do not cover the data.</summary>
    public const string SafeTensorsBadOffsets = "LM0104";

    /// <summary>A safetensors tensor's byte length differs from numel × dtype size, or its shape is absurd.</summary>
    public const string SafeTensorsBadShape = "LM0105";

    /// <summary>A safetensors tensor uses a dtype lm-tune cannot read.</summary>
    public const string SafeTensorsUnsupportedDtype = "LM0106";

    /// <summary>The model folder has no config.json or no weights lm-tune can read.</summary>
    public const string ModelFolderUnreadable = "LM0107";

    /// <summary>The folder only has pickled PyTorch weights (pytorch_model.bin), which lm-tune never executes.</summary>
    public const string PickleCheckpointRefused = "LM0108";

    /// <summary>The checkpoint's tensor names do not match the model: missing or unexpected keys.</summary>
    public const string CheckpointKeysMismatch = "LM0109";

    /// <summary>A checkpoint tensor's shape differs from the model parameter of the same name.</summary>
    public const string CheckpointShapeMismatch = "LM0110";

    /// <summary>model.safetensors.index.json is unreadable or names shards that are missing.</summary>
    public const string ShardIndexInvalid = "LM0111";

    /// <summary>No model preset has the given name.</summary>
    public const string UnknownModelPreset = "LM0112";

    /// <summary>The device string is not cpu, cuda, cuda:N or auto, or CUDA was asked for and is not available.</summary>
    public const string InvalidDevice = "LM0113";

    /// <summary>The dtype string is not one lm-tune can hold a model in (float32, bfloat16).</summary>
    public const string UnsupportedModelDtype = "LM0114";

    /// <summary>A checkpoint could not be written (disk full, permissions, a file in the way).</summary>
    public const string CheckpointWriteFailed = "LM0115";

    /// <summary>An input sequence is longer than the model's position embeddings.</summary>
    public const string SequenceTooLong = "LM0116";

    /// <summary>The whole model's parameters would not fit in the memory available to the process.</summary>
    public const string ModelTooLarge = "LM0120";

    /// <summary>A config.json size is beyond what lm-tune builds (a product overflows, more layers than the limit).</summary>
    public const string ModelConfigOutOfBounds = "LM0121";

    /// <summary>generation_config.json holds a value of the wrong type or out of range.</summary>
    public const string InvalidGenerationConfig = "LM0122";

    /// <summary>The model's loss or logits are NaN or infinite: its weights hold non-finite values.</summary>
    public const string ModelOutputNotFinite = "LM0123";

    /// <summary>A Llama-family config's rope_scaling names a type lm-tune does not implement, or lacks a value it needs.</summary>
    public const string RopeScalingUnsupported = "LM0140";

    /// <summary>A max_shard_size that is not a size ("5GB", "500MB", "2GiB" or a number of bytes).</summary>
    public const string MaxShardSizeInvalid = "LM0160";
}
