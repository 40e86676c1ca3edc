using System.Buffers.Binary;
using System.Text.Json.Nodes;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Training;

/// <summary>
/// A checkpoint's <c>rng_state.json</c>: base64 of torch's CPU generator state (<c>cpu</c>) and of the masking
/// collator's generator (<c>collator</c>). Every state is checked here before libtorch sees it, because
/// libtorch's <c>set_state</c> rejects a bad one with a C++ exception that aborts the whole process.
/// </summary>
internal static class RngStateFile
{
    /// <summary>
    /// Bytes of libtorch's <c>CPUGeneratorImplState</c>, the layout <c>get_rng_state</c> returns: the legacy
    /// <c>THGeneratorState</c> (seed, left, seeded, next, 624 words, normal cache; 5,048 bytes) plus the float
    /// normal cache (8 bytes). A test checks it against the loaded libtorch.
    /// </summary>
    public const int StateBytes = 5056;

    private const int MersenneStateWords = 624;

    /// <summary>The decoded states; throws LM0412 naming <paramref name="source"/> for anything libtorch would refuse.</summary>
    public static (byte[] Cpu, byte[]? Collator) Parse(JsonObject json, string source)
    {
        try
        {
            return ParseStates(json, source);
        }
        catch (InvalidOperationException)
        {
            // JsonObject reads its keys lazily: a key or value with an unpaired "\ud800" escape throws here.
            throw Invalid(source, "a key or value holds an unpaired UTF-16 surrogate escape");
        }
    }

    private static (byte[] Cpu, byte[]? Collator) ParseStates(JsonObject json, string source)
    {
        byte[] cpu = Decode(json, "cpu", source)
            ?? throw new LmException(ErrorCodes.CheckpointInvalid, $"{source}: 'cpu' is missing") { File = source };
        return (cpu, Decode(json, "collator", source));
    }

    private static byte[]? Decode(JsonObject json, string key, string source)
    {
        if (!json.TryGetPropertyValue(key, out JsonNode? node) || node is null) return null;
        if (node is not JsonValue value || !value.TryGetValue(out string? text))
            throw Invalid(source, $"'{key}' is not a base64 string");
        byte[] state;
        try
        {
            state = Convert.FromBase64String(text);
        }
        catch (FormatException)
        {
            throw Invalid(source, $"'{key}' is not valid base64");
        }
        if (state.Length != StateBytes)
            throw Invalid(source, $"'{key}' holds {state.Length} bytes; a torch CPU generator state has {StateBytes}");
        // The checks of libtorch's mt19937::is_valid: seeded, 1 <= left <= 624, next <= 624.
        int left = BinaryPrimitives.ReadInt32LittleEndian(state.AsSpan(8));
        int seeded = BinaryPrimitives.ReadInt32LittleEndian(state.AsSpan(12));
        ulong next = BinaryPrimitives.ReadUInt64LittleEndian(state.AsSpan(16));
        if (seeded == 0 || left < 1 || left > MersenneStateWords || next > MersenneStateWords)
            throw Invalid(source, $"'{key}' is not a valid Mersenne Twister state (left {left}, next {next}, seeded {seeded})");
        return state;
    }

    private static LmException Invalid(string source, string problem) =>
        new(ErrorCodes.CheckpointInvalid, $"{source}: {problem}") { File = source };
}
