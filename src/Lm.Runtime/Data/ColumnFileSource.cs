namespace Lm.Runtime.Data;

/// <summary>
/// A file of named columns (CSV, JSON, parquet) whose rows are one column's values: <c>text_column</c> when given,
/// else <c>text</c> when present, else the first column, as run_clm.py picks it.
/// </summary>
public abstract class ColumnFileSource : TextSource
{
    private readonly string _kind;
    private string? _identity;

    protected ColumnFileSource(string path, string? textColumn, string kind)
    {
        RequireNonEmptyFile(path);
        FilePath = path;
        RequestedColumn = textColumn;
        _kind = kind;
    }

    /// <summary>The file read.</summary>
    protected string FilePath { get; }

    /// <summary>The column asked for, if any.</summary>
    protected string? RequestedColumn { get; }

    public override string Name => FilePath;

    /// <summary>The file's column names.</summary>
    public abstract IReadOnlyList<string> Columns { get; }

    /// <summary>The column the rows come from.</summary>
    public string TextColumn => ChooseTextColumn(FilePath, Columns, RequestedColumn);

    public override string Identity => _identity ??= $"{_kind}|{HashFile(FilePath)}|{TextColumn}";
}
