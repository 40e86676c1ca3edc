using Lm.Runtime.Models;

namespace Lm.Bench;

/// <summary>
/// A model's linear layers (in, out) with their counts, and its FLOPs per training step: 6 × matmul parameters ×
/// tokens + 12 × layers × width × sequence × tokens for attention's two products (PaLM's count).
/// </summary>
internal sealed record ModelShape(IReadOnlyList<((int In, int Out) Shape, int Count)> Linears, int Layers, int Width)
{
    public long MatmulParameters => Linears.Sum(l => (long)l.Shape.In * l.Shape.Out * l.Count);

    public double ModelFlopsPerStep(int batch, int length)
    {
        double tokens = (double)batch * length;
        return 6.0 * MatmulParameters * tokens + 12.0 * Layers * Width * length * tokens;
    }

    public static ModelShape Of(LanguageModel model)
    {
        var linears = new List<(int, int)>();
        int layers, width;
        switch (model.Config)
        {
            case LlamaFamilyConfig c:
                layers = c.NumHiddenLayers;
                width = c.NumAttentionHeads * c.HeadDim;
                int kv = c.KeyValueHeadCount * c.HeadDim;
                for (int i = 0; i < layers; i++)
                    linears.AddRange([(c.HiddenWidth, width), (c.HiddenWidth, kv), (c.HiddenWidth, kv), (width, c.HiddenWidth),
                        (c.HiddenWidth, c.IntermediateSize), (c.HiddenWidth, c.IntermediateSize), (c.IntermediateSize, c.HiddenWidth)]);
                linears.Add((c.HiddenWidth, c.VocabSize));
                break;
            case Gpt2Config g:
                layers = g.NLayer;
                width = g.NEmbd;
                for (int i = 0; i < layers; i++)
                    linears.AddRange([(g.NEmbd, 3 * g.NEmbd), (g.NEmbd, g.NEmbd), (g.NEmbd, g.InnerSize), (g.InnerSize, g.NEmbd)]);
                linears.Add((g.NEmbd, g.VocabSize));
                break;
            default:
                throw new ArgumentException($"no FLOP count for {model.ArchitectureName}");
        }
        var grouped = linears.GroupBy(l => l).Select(g => (g.Key, g.Count())).ToList();
        return new ModelShape(grouped, layers, width);
    }
}
