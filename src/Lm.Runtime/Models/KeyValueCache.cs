using static TorchSharp.torch;

namespace Lm.Runtime.Models;

/// <summary>
/// The keys and values a causal LM has computed for the tokens so far, one pair per layer (HF's <c>DynamicCache</c>):
/// generation runs the prompt once (prefill) and then only the newest token, which attends to the cached keys.
/// The cache owns its tensors; dispose it when the generation ends.
/// </summary>
public sealed class KeyValueCache : IDisposable
{
    private readonly LayerKeyValues[] _layers;

    /// <summary>An empty cache for a model of <paramref name="layerCount"/> layers.</summary>
    public KeyValueCache(int layerCount)
    {
        _layers = Enumerable.Range(0, layerCount).Select(_ => new LayerKeyValues()).ToArray();
    }

    /// <summary>Tokens cached so far (the position of the next token).</summary>
    public long Length { get; private set; }

    internal LayerKeyValues Layer(int index) => _layers[index];

    /// <summary>Records that a forward pass appended <paramref name="tokens"/> tokens to every layer.</summary>
    internal void Advance(long tokens) => Length += tokens;

    public void Dispose()
    {
        foreach (var layer in _layers) layer.Dispose();
    }
}

/// <summary>One layer's cached keys and values, <c>[batch, heads, tokens, head_dim]</c>.</summary>
internal sealed class LayerKeyValues : IDisposable
{
    private Tensor? _key;
    private Tensor? _value;

    /// <summary>Appends the new keys and values along the sequence and returns everything cached (owned by the cache).</summary>
    public (Tensor Key, Tensor Value) Append(Tensor key, Tensor value)
    {
        var newKey = (_key is null ? key.detach().clone() : cat([_key, key.detach()], dim: 2)).DetachFromDisposeScope();
        var newValue = (_value is null ? value.detach().clone() : cat([_value, value.detach()], dim: 2)).DetachFromDisposeScope();
        _key?.Dispose();
        _value?.Dispose();
        _key = newKey;
        _value = newValue;
        return (newKey, newValue);
    }

    public void Dispose()
    {
        _key?.Dispose();
        _value?.Dispose();
        _key = _value = null;
    }
}
