using System.Text;
using Lm.Runtime.Data;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Tests.Data;

public class TextSourceTests
{
    [Fact]
    public void Text_file_keeps_each_line_break_and_blank_lines_as_the_text_builder_does()
    {
        using var dir = new ScratchFolder();
        string path = dir.File("a.txt", " = Title = \n \n\nsecond\r\nthird\rlast");
        var rows = TextSource.FromFile(path).ReadRows().ToList();
        Assert.Equal([" = Title = \n", " \n", "\n", "second\n", "third\n", "last"], rows);
        Assert.Equal(6, TextSource.FromFile(path).CountRows());
    }

    [Fact]
    public void Text_file_without_keep_linebreaks_strips_them()
    {
        using var dir = new ScratchFolder();
        string path = dir.File("a.txt", "one\n \ntwo\n");
        Assert.Equal(["one", " ", "two"], TextSource.FromFile(path, keepLinebreaks: false).ReadRows());
    }

    [Fact]
    public void Wikitext_rule_makes_blank_lines_empty_rows_and_keeps_other_lines_verbatim()
    {
        using var dir = new ScratchFolder();
        string path = dir.File("wiki.txt", " \n = Valkyria Chronicles III = \n \n Senjō no Valkyria 3 \n");
        Assert.Equal(["", " = Valkyria Chronicles III = \n", "", " Senjō no Valkyria 3 \n"],
            new TextFileSource(path, TextLineRule.Wikitext).ReadRows());
    }

    [Fact]
    public void Bundled_wikitext_sample_gives_the_hub_rows()
    {
        var source = new TextFileSource(TestData.Corpus("wikitext-2-raw/sample/train.txt"), TextLineRule.Wikitext);
        var rows = source.ReadRows().Take(3).ToList();
        Assert.Equal(["", " = Valkyria Chronicles III = \n", ""], rows);
        Assert.Equal(1018, source.CountRows());
    }

    [Fact]
    public void Long_lines_across_read_chunks_come_back_whole()
    {
        using var dir = new ScratchFolder();
        string longLine = new string('x', 3_000_000);
        string path = dir.File("long.txt", "a\n" + longLine + "\nb\n");
        Assert.Equal(["a\n", longLine + "\n", "b\n"], TextSource.FromFile(path).ReadRows());
    }

    [Theory]
    [InlineData(10, 5, 0)]   // round(0.5) = 0, ties to even
    [InlineData(30, 5, 2)]   // round(1.5) = 2
    [InlineData(50, 5, 2)]   // round(2.5) = 2
    [InlineData(36718, 5, 1836)] // round(1835.9)
    [InlineData(1018, 5, 51)]    // round(50.9)
    public void Percent_split_rounds_the_boundary_as_datasets_does(int rows, int percent, int expectedValidation)
    {
        using var dir = new ScratchFolder();
        string path = dir.File("rows.txt", string.Concat(Enumerable.Range(0, rows).Select(i => $"{i}\n")));
        var source = TextSource.FromFile(path);
        var validation = source.SlicePercent(null, percent).ReadRows().ToList();
        var train = source.SlicePercent(percent, null).ReadRows().ToList();
        Assert.Equal(expectedValidation, validation.Count);
        Assert.Equal(rows - expectedValidation, train.Count);
        if (validation.Count > 0) Assert.Equal("0\n", validation[0]);
        Assert.Equal($"{expectedValidation}\n", train[0]);
    }

    [Fact]
    public void Csv_reads_quoted_fields_with_commas_quotes_and_line_breaks()
    {
        using var dir = new ScratchFolder();
        string path = dir.File("a.csv", "id,text\r\n1,plain\r\n\r\n2,\"with, comma and \"\"quotes\"\"\"\n3,\"two\nlines\"\n4,\n");
        var source = TextSource.FromFile(path);
        Assert.Equal(["plain", "with, comma and \"quotes\"", "two\nlines", ""], source.ReadRows());
    }

    [Fact]
    public void Csv_without_a_text_column_uses_the_first_column_and_honours_text_column()
    {
        using var dir = new ScratchFolder();
        string path = dir.File("a.csv", "body,label\nhello,1\nworld,0\n");
        Assert.Equal(["hello", "world"], TextSource.FromFile(path).ReadRows());
        Assert.Equal(["1", "0"], TextSource.FromFile(path, textColumn: "label").ReadRows());
    }

    [Fact]
    public void Json_lines_and_json_arrays_give_the_text_field()
    {
        using var dir = new ScratchFolder();
        string lines = dir.File("a.jsonl", "{\"text\": \"one\", \"n\": 1}\n\n{\"n\": 2, \"text\": \"two\\n\"}\n");
        string array = dir.File("b.json", "[{\"title\": \"t\", \"body\": \"x\"}, {\"title\": \"u\", \"body\": \"y\"}]");
        Assert.Equal(["one", "two\n"], TextSource.FromFile(lines).ReadRows());
        Assert.Equal(["t", "u"], TextSource.FromFile(array).ReadRows());
        Assert.Equal(["x", "y"], TextSource.FromFile(array, "body").ReadRows());
    }

    [Fact]
    public async Task Parquet_reads_the_text_column_of_every_row_group()
    {
        using var dir = new ScratchFolder();
        string path = dir.File("a.parquet");
        await ParquetFiles.Write(path, ("text", [["a\n", ""], ["c"]]), ("other", [["1", "2"], ["3"]]));
        Assert.Equal(["a\n", "", "c"], TextSource.FromFile(path).ReadRows());
        Assert.Equal(3, TextSource.FromFile(path).CountRows());
        Assert.Equal(["1", "2", "3"], TextSource.FromFile(path, "other").ReadRows());
    }

    [Fact]
    public async Task Parquet_reads_on_a_thread_whose_single_threaded_context_is_blocked()
    {
        // As lm-tune's main thread: a context that only runs work on the thread that is now waiting for the read.
        using var dir = new ScratchFolder();
        string path = dir.File("a.parquet");
        await ParquetFiles.Write(path, ("text", [["a\n", "b\n"]]));
        IReadOnlyList<string>? rows = null;
        var reader = new Thread(() =>
        {
            SynchronizationContext.SetSynchronizationContext(new NeverRunContext());
            rows = TextSource.FromFile(path).ReadRows().ToList();
        });
        reader.IsBackground = true;
        reader.Start();
        Assert.True(reader.Join(TimeSpan.FromSeconds(20)), "the parquet read waited for the blocked context");
        Assert.Equal(["a\n", "b\n"], rows);
    }

    private sealed class NeverRunContext : SynchronizationContext
    {
        public override void Post(SendOrPostCallback d, object? state) { }

        public override void Send(SendOrPostCallback d, object? state) { }
    }

    [Fact]
    public void Missing_file_is_LM0301()
    {
        var e = Assert.Throws<LmException>(() => TextSource.FromFile("/nonexistent/train.txt"));
        Assert.Equal(ErrorCodes.DataFileNotFound, e.Code);
        Assert.Contains("/nonexistent/train.txt", e.Message);
    }

    [Fact]
    public void Empty_file_is_LM0302()
    {
        using var dir = new ScratchFolder();
        string path = dir.File("empty.txt", "");
        var e = Assert.Throws<LmException>(() => TextSource.FromFile(path));
        Assert.Equal(ErrorCodes.DataFileEmpty, e.Code);
        Assert.Equal(path, e.File);
    }

    [Fact]
    public void Unterminated_csv_quote_is_LM0304_with_the_line()
    {
        using var dir = new ScratchFolder();
        string path = dir.File("bad.csv", "text\nok\n\"never closed\nmore\n");
        var e = Assert.Throws<LmException>(() => TextSource.FromFile(path).ReadRows().ToList());
        Assert.Equal(ErrorCodes.MalformedCsv, e.Code);
        Assert.Equal(3, e.Line);
        Assert.Contains("line 3", e.Message);
    }

    [Fact]
    public void Csv_record_with_too_many_fields_is_LM0304_with_the_line()
    {
        using var dir = new ScratchFolder();
        string path = dir.File("bad.csv", "text,label\na,1\nb,2,extra\n");
        var e = Assert.Throws<LmException>(() => TextSource.FromFile(path).ReadRows().ToList());
        Assert.Equal(ErrorCodes.MalformedCsv, e.Code);
        Assert.Equal(3, e.Line);
        Assert.Contains("expected 2 fields, saw 3", e.Message);
    }

    [Fact]
    public void Malformed_json_line_is_LM0305_with_the_line()
    {
        using var dir = new ScratchFolder();
        string path = dir.File("bad.jsonl", "{\"text\": \"a\"}\n{\"text\": \"b\"}\n{\"text\": oops}\n");
        var e = Assert.Throws<LmException>(() => TextSource.FromFile(path).ReadRows().ToList());
        Assert.Equal(ErrorCodes.MalformedJson, e.Code);
        Assert.Equal(3, e.Line);
    }

    [Fact]
    public void Json_text_that_is_not_a_string_is_LM0305()
    {
        using var dir = new ScratchFolder();
        string path = dir.File("bad.jsonl", "{\"text\": \"a\"}\n{\"text\": 5}\n");
        var e = Assert.Throws<LmException>(() => TextSource.FromFile(path).ReadRows().ToList());
        Assert.Equal(ErrorCodes.MalformedJson, e.Code);
        Assert.Equal(2, e.Line);
    }

    [Theory]
    [InlineData("{\"text\": \"a\"}\n{\"text\": \"b \\ud800 c\"}\n", 2)]
    [InlineData("{\"text\": \"a\"}\n{\"te\\udc00xt\": \"b\"}\n", 2)]
    [InlineData("{\"te\\udc00xt\": \"b\"}\n", 1)]
    public void A_lone_surrogate_escape_in_json_lines_is_LM0320_with_the_line(string content, int line)
    {
        using var dir = new ScratchFolder();
        string path = dir.File("bad.jsonl", content);
        var e = Assert.Throws<LmException>(() => TextSource.FromFile(path, "text").ReadRows().ToList());
        Assert.Equal(ErrorCodes.InvalidUtf16InJson, e.Code);
        Assert.Equal(line, e.Line);
        Assert.Equal(path, e.File);
    }

    [Fact]
    public void A_lone_surrogate_escape_in_a_json_array_is_LM0320_naming_the_item()
    {
        using var dir = new ScratchFolder();
        string path = dir.File("bad.json", "[{\"text\": \"a\"}, {\"text\": \"\\ud800\"}]");
        var e = Assert.Throws<LmException>(() => TextSource.FromFile(path).ReadRows().ToList());
        Assert.Equal(ErrorCodes.InvalidUtf16InJson, e.Code);
        Assert.Contains("array item 2", e.Message);
    }

    [Fact]
    public void Invalid_utf8_is_LM0306_with_the_byte_offset()
    {
        using var dir = new ScratchFolder();
        byte[] bytes = [.. Encoding.UTF8.GetBytes("fine line\nsecond "), 0xC3, 0x28, .. Encoding.UTF8.GetBytes(" rest\n")];
        string path = dir.Bytes("bad.txt", bytes);
        var e = Assert.Throws<LmException>(() => TextSource.FromFile(path).ReadRows().ToList());
        Assert.Equal(ErrorCodes.InvalidUtf8, e.Code);
        Assert.Equal(17, e.Offset);
        Assert.Equal(2, e.Line);
        Assert.Contains("byte offset 17", e.Message);
    }

    [Fact]
    public void Unknown_column_is_LM0307_listing_the_columns()
    {
        using var dir = new ScratchFolder();
        string path = dir.File("a.csv", "title,body\nx,y\n");
        var e = Assert.Throws<LmException>(() => TextSource.FromFile(path, "text").ReadRows().ToList());
        Assert.Equal(ErrorCodes.UnknownColumn, e.Code);
        Assert.Contains("title, body", e.Message);
    }

    [Fact]
    public void Unsupported_extension_is_LM0309()
    {
        using var dir = new ScratchFolder();
        string path = dir.File("a.xml", "<x/>");
        Assert.Equal(ErrorCodes.UnsupportedDataFormat, Assert.Throws<LmException>(() => TextSource.FromFile(path)).Code);
    }

    [Fact]
    public void Identity_changes_with_one_byte_of_the_file()
    {
        using var dir = new ScratchFolder();
        string path = dir.File("a.txt", "hello world\n");
        string before = TextSource.FromFile(path).Identity;
        File.WriteAllText(path, "hello World\n");
        Assert.NotEqual(before, TextSource.FromFile(path).Identity);
        Assert.NotEqual(TextSource.FromFile(path).Identity, TextSource.FromFile(path, keepLinebreaks: false).Identity);
    }
}
