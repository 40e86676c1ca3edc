using Lm.Runtime.Errors;

namespace Lm.Runtime.Tests.Errors;

public class ErrorCodesTests
{
    private static IReadOnlyList<string> Codes() =>
        typeof(ErrorCodes).GetFields().Where(f => f.IsLiteral).Select(f => (string)f.GetValue(null)!).ToList();

    private static string ErrorTable()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string table = Path.Combine(dir.FullName, "docs", "errors.md");
            if (File.Exists(Path.Combine(dir.FullName, "Lm.sln")) && File.Exists(table)) return File.ReadAllText(table);
        }
        throw new InvalidOperationException("docs/errors.md not found above " + AppContext.BaseDirectory);
    }

    [Fact]
    public void Every_code_is_unique_and_has_a_row_in_docs_errors_md()
    {
        var codes = Codes();
        Assert.Equal(codes.Count, codes.Distinct().Count());
        string table = ErrorTable();
        Assert.All(codes, code => Assert.Contains($"| {code} |", table));
    }
}
