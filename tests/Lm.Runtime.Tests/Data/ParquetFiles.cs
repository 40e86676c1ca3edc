using Parquet;
using Parquet.Schema;

namespace Lm.Runtime.Tests.Data;

/// <summary>Parquet files of string columns, as the hub serves a dataset's shards.</summary>
public static class ParquetFiles
{
    /// <summary>Writes string columns, one row group per inner array.</summary>
    public static async Task Write(string path, params (string Name, string[][] Groups)[] columns)
    {
        var fields = columns.Select(c => new DataField<string>(c.Name)).ToArray();
        await using var stream = File.Create(path);
        await using var writer = await ParquetWriter.CreateAsync(new ParquetSchema(fields), stream);
        for (int group = 0; group < columns[0].Groups.Length; group++)
        {
            using var rowGroup = writer.CreateRowGroup();
            for (int c = 0; c < columns.Length; c++)
                await rowGroup.WriteAsync(fields[c], columns[c].Groups[group], null);
        }
    }
}
