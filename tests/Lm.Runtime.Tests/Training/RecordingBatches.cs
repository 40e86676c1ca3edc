using Lm.Runtime.Data;
using Lm.Runtime.Tests.Reference;
using Lm.Runtime.Training;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Training;

/// <summary>
/// Fixed examples of one width, collated as given (attention 0 where the label is -100 and the token is the pad
/// id), that record every batch the trainer asks for, in order.
/// </summary>
internal sealed class RecordingBatches(IReadOnlyList<PlainExample> examples, int padId = 0) : IBatchSource
{
    public List<int[]> Requests { get; } = [];

    public IReadOnlyList<PlainExample> Examples => examples;

    public int Count => examples.Count;

    public Batch Collate(IReadOnlyList<int> indices)
    {
        Requests.Add(indices.ToArray());
        int width = examples[indices[0]].InputIds.Length;
        var ids = new long[indices.Count * width];
        var mask = new long[indices.Count * width];
        var labels = new long[indices.Count * width];
        for (int i = 0; i < indices.Count; i++)
        {
            var example = examples[indices[i]];
            for (int j = 0; j < width; j++)
            {
                ids[i * width + j] = example.InputIds[j];
                labels[i * width + j] = example.Labels[j];
                mask[i * width + j] = example.Labels[j] == PlainLoop.Ignore && example.InputIds[j] == padId ? 0 : 1;
            }
        }
        long[] shape = [indices.Count, width];
        return new Batch(tensor(ids, shape), tensor(mask, shape), tensor(labels, shape));
    }

    public Tensor? GetRandomState() => null;

    public void SetRandomState(Tensor state) { }

    /// <summary>Examples <c>[0..count)</c> of <paramref name="width"/> tokens whose labels equal their ids (run_clm.py's blocks).</summary>
    public static RecordingBatches Blocks(int count, int width, int vocab, int seed)
    {
        var random = new Random(seed);
        var list = new List<PlainExample>();
        for (int i = 0; i < count; i++)
        {
            int[] ids = Enumerable.Range(0, width).Select(_ => random.Next(vocab)).ToArray();
            list.Add(new PlainExample(ids, ids.ToArray()));
        }
        return new RecordingBatches(list);
    }
}
