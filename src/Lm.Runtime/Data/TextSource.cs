using System.Security.Cryptography;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Data;

/// <summary>
/// The rows of one dataset split, as Hugging Face <c>datasets</c> would load them: one string per example, read in
/// file order and streamed (never all in memory). Open files with <see cref="FromFile"/>; hub datasets through
/// <see cref="HubDatasetCache"/>.
/// </summary>
public abstract class TextSource
{
    /// <summary>What the rows come from, for messages (a path, or a dataset split).</summary>
    public abstract string Name { get; }

    /// <summary>
    /// Identifies the rows exactly: file contents (SHA-256) plus every reading option. Part of the token cache key.
    /// </summary>
    public abstract string Identity { get; }

    /// <summary>Reads the rows in order. Errors in the file are <see cref="LmException"/>s naming file and line.</summary>
    public abstract IEnumerable<string> ReadRows();

    private long? _rowCount;

    /// <summary>The number of rows (reads the file once, the first time it is asked).</summary>
    public long CountRows() => _rowCount ??= CountRowsCore();

    /// <summary>Counts the rows; sources that can count faster than reading every row override it.</summary>
    protected virtual long CountRowsCore()
    {
        long count = 0;
        foreach (var _ in ReadRows()) count++;
        return count;
    }

    /// <summary>
    /// The rows from <paramref name="fromPercent"/> to <paramref name="toPercent"/> of this source, as the
    /// <c>datasets</c> split syntax <c>train[from%:to%]</c> selects them (boundaries rounded to the closest row,
    /// ties to even, as Python's <c>round</c>).
    /// </summary>
    public TextSource SlicePercent(int? fromPercent, int? toPercent) => new PercentSlice(this, fromPercent, toPercent);

    /// <summary>
    /// Opens a data file by extension as run_clm.py / run_mlm.py would load it: <c>.txt</c> with the <c>text</c>
    /// builder (one row per line, each keeping its <c>\n</c> when <paramref name="keepLinebreaks"/>), <c>.csv</c>,
    /// <c>.json</c>/<c>.jsonl</c> and <c>.parquet</c> (column <paramref name="textColumn"/>, else <c>text</c>, else
    /// the first column).
    /// </summary>
    public static TextSource FromFile(string path, string? textColumn = null, bool keepLinebreaks = true)
    {
        RequireNonEmptyFile(path);
        string extension = Path.GetExtension(path).ToLowerInvariant();
        return extension switch
        {
            ".txt" or ".text" or ".raw" or ".tokens" => new TextFileSource(path, keepLinebreaks ? TextLineRule.KeepLinebreaks : TextLineRule.StripLinebreaks),
            ".csv" => new CsvFileSource(path, textColumn),
            ".json" or ".jsonl" => new JsonFileSource(path, textColumn),
            ".parquet" => new ParquetFileSource(path, textColumn),
            _ => throw new LmException(ErrorCodes.UnsupportedDataFormat,
                $"{path}: unsupported data file type '{extension}'; use .txt, .csv, .json, .jsonl or .parquet")
            { File = path },
        };
    }

    internal static void RequireNonEmptyFile(string path)
    {
        if (!File.Exists(path))
            throw new LmException(ErrorCodes.DataFileNotFound, $"data file not found: {path}") { File = path };
        if (new FileInfo(path).Length == 0)
            throw new LmException(ErrorCodes.DataFileEmpty, $"{path}: the file is empty") { File = path };
    }

    /// <summary>SHA-256 of a file's bytes, hex.</summary>
    internal static string HashFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    internal static string ChooseTextColumn(string path, IReadOnlyList<string> columns, string? requested)
    {
        if (requested is not null)
        {
            if (columns.Contains(requested)) return requested;
            throw new LmException(ErrorCodes.UnknownColumn,
                $"{path}: no column '{requested}'; the columns are: {string.Join(", ", columns)}")
            { File = path };
        }
        if (columns.Contains("text")) return "text";
        if (columns.Count == 0)
            throw new LmException(ErrorCodes.DataFileEmpty, $"{path}: the file has no columns") { File = path };
        return columns[0];
    }

    /// <summary>The row where <c>train[P%]</c> cuts a split of <paramref name="total"/> rows, as <c>datasets</c> rounds it.</summary>
    internal static long RowAtPercent(int percent, long total) => PercentSlice.PercentToRow(percent, total);

    private sealed class PercentSlice(TextSource inner, int? fromPercent, int? toPercent) : TextSource
    {
        private (long Start, long End)? _range;

        public override string Name => $"{inner.Name}[{fromPercent}%:{toPercent}%]";

        public override string Identity => $"{inner.Identity}|slice={fromPercent}%:{toPercent}%";

        public override IEnumerable<string> ReadRows()
        {
            var (start, end) = Range();
            long index = 0;
            foreach (string row in inner.ReadRows())
            {
                if (index >= end) yield break;
                if (index >= start) yield return row;
                index++;
            }
        }

        protected override long CountRowsCore()
        {
            var (start, end) = Range();
            return end - start;
        }

        private (long Start, long End) Range()
        {
            if (_range is { } known) return known;
            long total = inner.CountRows();
            long start = fromPercent is { } f ? PercentToRow(f, total) : 0;
            long end = toPercent is { } t ? PercentToRow(t, total) : total;
            _range = (Math.Clamp(start, 0, total), Math.Clamp(Math.Max(start, end), 0, total));
            return _range.Value;
        }

        // datasets' "closest" rounding: int(round(boundary * num_examples / 100.0)).
        internal static long PercentToRow(int percent, long total) =>
            (long)Math.Round((double)(percent * total) / 100.0, MidpointRounding.ToEven);
    }
}
