using System.Text;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Data;

/// <summary>
/// A CSV file as <c>datasets</c>' <c>csv</c> builder (pandas <c>read_csv</c> defaults) reads it: a header row
/// naming the columns, comma separators, <c>"</c> quoting with <c>""</c> escapes and line breaks inside quotes,
/// blank lines skipped. A record with more fields than the header, or a quote left open, is an
/// <see cref="LmException"/> naming the line. An empty text field is the empty row (pandas would make it NaN, which
/// the tokenizer then rejects).
/// </summary>
public sealed class CsvFileSource(string path, string? textColumn) : ColumnFileSource(path, textColumn, "csv")
{
    private IReadOnlyList<string>? _columns;

    /// <summary>The header's column names.</summary>
    public override IReadOnlyList<string> Columns => _columns ??= ReadRecords().Select(r => r.Fields).FirstOrDefault() ?? [];

    public override IEnumerable<string> ReadRows()
    {
        int column = -1;
        int columnCount = 0;
        foreach (var (fields, line) in ReadRecords())
        {
            if (column < 0)
            {
                column = fields.IndexOf(ChooseTextColumn(FilePath, fields, RequestedColumn));
                columnCount = fields.Count;
                continue;
            }
            if (fields.Count > columnCount)
                throw new LmException(ErrorCodes.MalformedCsv,
                    $"{FilePath}: line {line}: expected {columnCount} fields, saw {fields.Count}")
                { File = FilePath, Line = (int)line };
            yield return column < fields.Count ? fields[column] : "";
        }
    }

    private IEnumerable<(List<string> Fields, long Line)> ReadRecords()
    {
        var field = new StringBuilder();
        var fields = new List<string>();
        long line = 1, recordLine = 1;
        bool inQuotes = false, quoteInQuotes = false, skipLineFeed = false, fieldStarted = false;

        using var reader = new Utf8ChunkReader(FilePath);
        while (reader.Read())
        {
            var records = new List<(List<string>, long)>();
            foreach (char c in reader.Chunk)
            {
                if (skipLineFeed)
                {
                    skipLineFeed = false;
                    if (c == '\n') continue;
                }
                if (quoteInQuotes)
                {
                    quoteInQuotes = false;
                    if (c == '"') { field.Append('"'); continue; }
                    inQuotes = false;
                }
                if (inQuotes)
                {
                    if (c == '"') { quoteInQuotes = true; continue; }
                    if (c == '\n') line++;
                    field.Append(c);
                    continue;
                }
                switch (c)
                {
                    case ',':
                        fields.Add(field.ToString());
                        field.Clear();
                        fieldStarted = true;
                        break;
                    case '\n' or '\r':
                        if (fieldStarted || field.Length > 0 || fields.Count > 0)
                        {
                            fields.Add(field.ToString());
                            records.Add((fields, recordLine));
                            fields = new List<string>();
                        }
                        field.Clear();
                        fieldStarted = false;
                        skipLineFeed = c == '\r';
                        line++;
                        recordLine = line;
                        break;
                    case '"' when field.Length == 0:
                        inQuotes = true;
                        fieldStarted = true;
                        break;
                    default:
                        field.Append(c);
                        break;
                }
            }
            foreach (var record in records) yield return record;
        }

        if (inQuotes && !quoteInQuotes)
            throw new LmException(ErrorCodes.MalformedCsv,
                $"{FilePath}: line {recordLine}: a quoted field is never closed")
            { File = FilePath, Line = (int)recordLine };
        if (fieldStarted || field.Length > 0 || fields.Count > 0)
        {
            fields.Add(field.ToString());
            yield return (fields, recordLine);
        }
    }
}
