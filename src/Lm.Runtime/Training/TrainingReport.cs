using System.Globalization;
using System.Net;
using System.Text;

namespace Lm.Runtime.Training;

/// <summary>
/// A self-contained <c>report.html</c>: the final metrics and two inline SVG charts (training and evaluation loss,
/// learning rate) drawn from <see cref="TrainerState.LogHistory"/>. No scripts, fonts or other network assets.
/// </summary>
public static class TrainingReport
{
    private const int Width = 640, Height = 260, Margin = 48;

    /// <summary>The report's HTML for a run's state and its final metrics.</summary>
    public static string Render(string title, TrainerState state, IReadOnlyDictionary<string, double> metrics)
    {
        var loss = Series(state, "loss");
        var evalLoss = Series(state, "eval_loss");
        var learningRate = Series(state, "learning_rate");
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>")
            .Append(WebUtility.HtmlEncode(title))
            .Append("</title>\n<style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse}" +
                    "td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}th{text-align:left}" +
                    "svg{border:1px solid #ddd;margin:1em 0}.train{stroke:#1f77b4}.eval{stroke:#d62728}.lr{stroke:#2ca02c}</style>\n</head><body>\n")
            .Append("<h1>").Append(WebUtility.HtmlEncode(title)).Append("</h1>\n")
            .Append(CultureInfo.InvariantCulture, $"<p>{state.GlobalStep} of {state.MaxSteps} steps, epoch {Format(state.Epoch ?? 0)}.</p>\n");
        html.Append("<table>\n");
        foreach (var (key, value) in metrics.OrderBy(m => m.Key, StringComparer.Ordinal))
            html.Append("<tr><th>").Append(WebUtility.HtmlEncode(key)).Append("</th><td>").Append(Format(value)).Append("</td></tr>\n");
        html.Append("</table>\n<h2>Loss</h2>\n")
            .Append(Chart([("train loss", "train", loss), ("eval loss", "eval", evalLoss)]))
            .Append("<h2>Learning rate</h2>\n")
            .Append(Chart([("learning rate", "lr", learningRate)]))
            .Append("</body></html>\n");
        return html.ToString();
    }

    /// <summary>Writes the report to <paramref name="path"/> (temp file + rename).</summary>
    public static void Write(string path, string title, TrainerState state, IReadOnlyDictionary<string, double> metrics) =>
        AtomicFile.WriteAllText(path, Render(title, state, metrics));

    private static List<(double X, double Y)> Series(TrainerState state, string key) =>
        state.LogHistory.Where(e => e.TryGetValue(key, out double v) && double.IsFinite(v))
            .Select(e => ((double)e.Step, e[key])).ToList();

    private static string Chart(IReadOnlyList<(string Label, string CssClass, List<(double X, double Y)> Points)> series)
    {
        var all = series.SelectMany(s => s.Points).ToList();
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\">\n");
        if (all.Count == 0)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Margin}\" y=\"{Height / 2}\">no values logged</text>\n</svg>\n");
            return svg.ToString();
        }
        double xMin = all.Min(p => p.X), xMax = all.Max(p => p.X), yMin = all.Min(p => p.Y), yMax = all.Max(p => p.Y);
        if (xMax == xMin) xMax = xMin + 1;
        if (yMax == yMin) yMax = yMin + Math.Max(Math.Abs(yMin) * 0.1, 1e-12);
        double Px(double x) => Margin + (x - xMin) / (xMax - xMin) * (Width - 2 * Margin);
        double Py(double y) => Height - Margin - (y - yMin) / (yMax - yMin) * (Height - 2 * Margin);
        svg.Append(CultureInfo.InvariantCulture,
            $"<line x1=\"{Margin}\" y1=\"{Height - Margin}\" x2=\"{Width - Margin}\" y2=\"{Height - Margin}\" stroke=\"#888\"/>\n" +
            $"<line x1=\"{Margin}\" y1=\"{Margin}\" x2=\"{Margin}\" y2=\"{Height - Margin}\" stroke=\"#888\"/>\n" +
            $"<text x=\"{Margin}\" y=\"{Height - Margin / 3}\" font-size=\"11\">step {Format(xMin)}</text>\n" +
            $"<text x=\"{Width - Margin}\" y=\"{Height - Margin / 3}\" font-size=\"11\" text-anchor=\"end\">step {Format(xMax)}</text>\n" +
            $"<text x=\"4\" y=\"{Margin - 6}\" font-size=\"11\">{Format(yMax)}</text>\n" +
            $"<text x=\"4\" y=\"{Height - Margin + 12}\" font-size=\"11\">{Format(yMin)}</text>\n");
        int legendY = 14;
        foreach (var (label, css, points) in series)
        {
            if (points.Count == 0) continue;
            string coordinates = string.Join(" ", points.Select(p => string.Create(CultureInfo.InvariantCulture, $"{Px(p.X):0.##},{Py(p.Y):0.##}")));
            svg.Append(CultureInfo.InvariantCulture, $"<polyline class=\"{css}\" fill=\"none\" stroke-width=\"1.5\" points=\"{coordinates}\"/>\n");
            foreach (var p in points.Count <= 60 ? points : [])
                svg.Append(CultureInfo.InvariantCulture, $"<circle class=\"{css}\" cx=\"{Px(p.X):0.##}\" cy=\"{Py(p.Y):0.##}\" r=\"2\" fill=\"none\"/>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Width - Margin}\" y=\"{legendY}\" font-size=\"11\" text-anchor=\"end\" class=\"{css}\">{WebUtility.HtmlEncode(label)}</text>\n");
            legendY += 14;
        }
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    private static string Format(double value) => value.ToString("G6", CultureInfo.InvariantCulture);
}
