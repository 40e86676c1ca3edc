namespace Lm.Runtime.Data;

/// <summary>How a line of a text file becomes a row.</summary>
public enum TextLineRule
{
    /// <summary>
    /// <c>datasets</c>' <c>text</c> builder with <c>keep_linebreaks=True</c> (run_clm.py's default): every line is a
    /// row and keeps its <c>\n</c>; a blank line <c>" \n"</c> stays <c>" \n"</c>.
    /// </summary>
    KeepLinebreaks,

    /// <summary>The <c>text</c> builder with <c>keep_linebreaks=False</c>: every line is a row, without its <c>\n</c>.</summary>
    StripLinebreaks,

    /// <summary>
    /// The hub <c>wikitext</c> loader: a whitespace-only line is the empty row <c>""</c>; any other line is kept
    /// verbatim with its <c>\n</c>.
    /// </summary>
    Wikitext,
}

/// <summary>
/// A UTF-8 text file read line by line as Python's text mode does: <c>\r\n</c> and a lone <c>\r</c> end a line as
/// <c>\n</c> does (universal newlines), and a last line without a line break is still a row.
/// </summary>
public sealed class TextFileSource : TextSource
{
    private readonly string _path;
    private readonly TextLineRule _rule;
    private string? _identity;

    public TextFileSource(string path, TextLineRule rule)
    {
        RequireNonEmptyFile(path);
        _path = path;
        _rule = rule;
    }

    public override string Name => _path;

    public override string Identity => _identity ??= $"text|{HashFile(_path)}|{_rule}";

    public override IEnumerable<string> ReadRows()
    {
        using var reader = new Utf8ChunkReader(_path);
        while (reader.Read())
        {
            // Rows are cut from a copy because the reader's buffer is reused by the next Read().
            var rows = new List<string>();
            SplitLines(reader.Chunk, rows);
            foreach (string row in rows) yield return row;
        }
    }

    protected override long CountRowsCore()
    {
        long count = 0;
        using var reader = new Utf8ChunkReader(_path);
        while (reader.Read())
        {
            var chunk = reader.Chunk;
            while (!chunk.IsEmpty)
            {
                int end = chunk.IndexOfAny('\n', '\r');
                count++;
                if (end < 0) break;
                int terminator = chunk[end] == '\r' && end + 1 < chunk.Length && chunk[end + 1] == '\n' ? 2 : 1;
                chunk = chunk[(end + terminator)..];
            }
        }
        return count;
    }

    private void SplitLines(ReadOnlySpan<char> chunk, List<string> rows)
    {
        while (!chunk.IsEmpty)
        {
            int end = chunk.IndexOfAny('\n', '\r');
            if (end < 0)
            {
                rows.Add(MakeRow(chunk, hasBreak: false));
                return;
            }
            int terminator = chunk[end] == '\r' && end + 1 < chunk.Length && chunk[end + 1] == '\n' ? 2 : 1;
            rows.Add(MakeRow(chunk[..end], hasBreak: true));
            chunk = chunk[(end + terminator)..];
        }
    }

    private string MakeRow(ReadOnlySpan<char> line, bool hasBreak) => _rule switch
    {
        TextLineRule.StripLinebreaks => line.ToString(),
        TextLineRule.Wikitext when line.IsWhiteSpace() => "",
        _ => hasBreak ? string.Concat(line, "\n") : line.ToString(),
    };
}
