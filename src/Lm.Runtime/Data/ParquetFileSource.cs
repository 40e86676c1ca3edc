using Lm.Runtime.Errors;
using Parquet;
using Parquet.Schema;

namespace Lm.Runtime.Data;

/// <summary>
/// A parquet file (the hub's dataset format) read one row group at a time. The text column must hold strings;
/// a null value is the empty row.
/// </summary>
public sealed class ParquetFileSource(string path, string? textColumn) : ColumnFileSource(path, textColumn, "parquet")
{
    /// <summary>The file's top-level column names.</summary>
    public override IReadOnlyList<string> Columns => Open(reader => reader.Schema.DataFields.Select(f => f.Name).ToList());

    protected override long CountRowsCore() =>
        Open(reader => Enumerable.Range(0, reader.RowGroupCount).Sum(i => reader.OpenRowGroupReader(i).RowCount));

    public override IEnumerable<string> ReadRows()
    {
        string column = TextColumn;
        int groups = Open(reader => reader.RowGroupCount);
        for (int group = 0; group < groups; group++)
        {
            string?[] values = Open(reader => ReadGroup(reader, group, column));
            foreach (string? value in values) yield return value ?? "";
        }
    }

    private string?[] ReadGroup(ParquetReader reader, int group, string column)
    {
        DataField field = reader.Schema.DataFields.First(f => f.Name == column);
        if (field.ClrType != typeof(string) && field.ClrType != typeof(ReadOnlyMemory<char>))
            throw new LmException(ErrorCodes.MalformedParquet,
                $"{FilePath}: column '{column}' holds {field.ClrType.Name}, not text") { File = FilePath };
        using var groupReader = reader.OpenRowGroupReader(group);
        var values = new string?[groupReader.RowCount];
        groupReader.ReadAsync(field, values.AsMemory()!, null, default).AsTask().GetAwaiter().GetResult();
        return values;
    }

    private T Open<T>(Func<ParquetReader, T> read)
    {
        // Parquet.Net is async only and this waits on it. Its awaits must not resume on the caller's
        // synchronization context: a single-threaded one (lm-tune runs commands on its main thread) is the thread
        // blocked here, and the read would never finish.
        var callerContext = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(null);
        try
        {
            var reader = ParquetReader.CreateAsync(FilePath, null, default).GetAwaiter().GetResult();
            try
            {
                return read(reader);
            }
            finally
            {
                reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        }
        catch (Exception e) when (e is not LmException)
        {
            throw new LmException(ErrorCodes.MalformedParquet, $"{FilePath}: cannot read parquet: {e.Message}", e) { File = FilePath };
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(callerContext);
        }
    }
}
