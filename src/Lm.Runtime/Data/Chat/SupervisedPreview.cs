using Lm.Runtime.Tokenization;

namespace Lm.Runtime.Data.Chat;

/// <summary>A stretch of a rendered example whose tokens all take loss (<see cref="Trained"/>) or none do.</summary>
public sealed record ChatPreviewSegment(string Text, bool Trained);

/// <summary>One chat or instruction row as training sees it: the rendered text cut into trained and untrained stretches.</summary>
public sealed record ChatPreviewRow(long Index, string Rendered, IReadOnlyList<ChatPreviewSegment> Segments, int Tokens, int TrainedTokens);

/// <summary>
/// <c>data preview</c> for chat and instruction rows: random rows (the same pick as text previews), each tokenized
/// as training tokenizes it (before truncation) and decoded stretch by stretch, so the trained spans can be marked.
/// </summary>
public static class SupervisedPreview
{
    public static IReadOnlyList<ChatPreviewRow> RandomRows(IReadOnlyList<SupervisedRow> rows, SupervisedTokenizer supervised, LmTokenizer tokenizer,
        int count, int seed = 42) =>
        DatasetPreview.RandomIndices(rows.Count, count, seed).Select(index =>
        {
            var row = rows[(int)index];
            var example = supervised.Tokenize(row);
            var segments = new List<ChatPreviewSegment>();
            int start = 0;
            for (int i = 1; i <= example.InputIds.Length; i++)
            {
                bool trained = example.Labels[start] != SupervisedTokenizer.IgnoreIndex;
                if (i < example.InputIds.Length && (example.Labels[i] != SupervisedTokenizer.IgnoreIndex) == trained) continue;
                segments.Add(new ChatPreviewSegment(tokenizer.Decode(example.InputIds[start..i], skipSpecialTokens: false), trained));
                start = i;
            }
            return new ChatPreviewRow(index, supervised.RenderText(row), segments, example.InputIds.Length, example.TrainedTokens);
        }).ToList();
}
