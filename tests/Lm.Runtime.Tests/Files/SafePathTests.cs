using Lm.Runtime.Errors;
using Lm.Runtime.Files;

namespace Lm.Runtime.Tests.Files;

public sealed class SafePathTests
{
    [Theory]
    [InlineData("config.json")]
    [InlineData("model-00001-of-00002.safetensors")]
    [InlineData("wikitext-2-raw-v1")]
    [InlineData("a..b")]
    [InlineData(".gitattributes")]
    [InlineData("données.txt")]
    [InlineData("emoji-\U0001F600.txt")]
    public void Plain_names_are_accepted(string name)
    {
        Assert.True(SafePath.IsName(name));
        Assert.True(SafePath.IsRelativePath(name));
        Assert.Equal(name, SafePath.RequireName(name, "the test name"));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData(".", "dots")]
    [InlineData("..", "dots")]
    [InlineData("...", "dots")]
    [InlineData(".. ", "dots")]
    [InlineData("a/b", "'/'")]
    [InlineData("/etc", "'/'")]
    [InlineData("..\\x", "'\\'")]
    [InlineData("C:", "':'")]
    [InlineData("C:x", "':'")]
    [InlineData("file.txt:stream", "':'")]
    [InlineData("a\u0000b", "U+0000")]
    [InlineData("a\nb", "U+000A")]
    [InlineData("a\u007fb", "U+007F")]
    public void Unsafe_names_are_refused_with_LM0520_naming_the_value(string name, string problem)
    {
        Assert.False(SafePath.IsName(name));

        var error = Assert.Throws<LmException>(() => SafePath.RequireName(name, "the test name"));

        Assert.Equal(ErrorCodes.UnsafePathName, error.Code);
        Assert.Contains($"the test name '{SafePath.Printable(name)}'", error.Message);
        Assert.Contains(problem, error.Message);
        Assert.DoesNotContain('\0', error.Message);
    }

    [Fact]
    public void An_unpaired_surrogate_is_refused()
    {
        // Built here: xunit's case serialisation would turn a lone surrogate into U+FFFD.
        string name = "a" + (char)0xD800 + "b";
        var error = Assert.Throws<LmException>(() => SafePath.RequireName(name, "the test name"));
        Assert.Equal(ErrorCodes.UnsafePathName, error.Code);
        Assert.Contains("a\\ud800b", error.Message);
        Assert.Contains("surrogate", error.Message);
    }

    [Fact]
    public void A_name_longer_than_a_file_system_stores_is_refused()
    {
        Assert.True(SafePath.IsName(new string('a', 255)));
        Assert.False(SafePath.IsName(new string('a', 256)));
        Assert.False(SafePath.IsName(new string('é', 128)));
    }

    [Theory]
    [InlineData("data/train-00000-of-00001.parquet")]
    [InlineData("refs/pr/1")]
    [InlineData("a/b/c/d.json")]
    public void Relative_paths_of_plain_names_are_accepted(string path)
    {
        Assert.True(SafePath.IsRelativePath(path));
        Assert.False(SafePath.IsName(path));
    }

    [Theory]
    [InlineData("/abs/path/planted.sh", "absolute")]
    [InlineData("../planted.sh", "'..'")]
    [InlineData("data/../../planted.sh", "'..'")]
    [InlineData("data/./x", "'.'")]
    [InlineData("data//x", "empty segment")]
    [InlineData("data/", "empty segment")]
    [InlineData("C:/x", "':'")]
    [InlineData("data\\..\\x", "'\\'")]
    public void Relative_paths_that_could_leave_their_root_are_refused(string path, string problem)
    {
        var error = Assert.Throws<LmException>(() => SafePath.RequireRelativePath(path, "the test path"));
        Assert.Equal(ErrorCodes.UnsafePathName, error.Code);
        Assert.Contains(path, error.Message);
        Assert.Contains(problem, error.Message);
    }

    [Fact]
    public void Combine_joins_under_the_root_and_nowhere_else()
    {
        string root = Path.Combine(Path.GetTempPath(), "lm-root");

        Assert.Equal(Path.Combine(root, "data", "x.parquet"), SafePath.Combine(root, "data/x.parquet", "the test path"));
        Assert.Equal(ErrorCodes.UnsafePathName, Assert.Throws<LmException>(() => SafePath.Combine(root, "../lm-root2/x", "the test path")).Code);
    }

    [Theory]
    [InlineData("/r", "/r/a", true)]
    [InlineData("/r/", "/r/a/b", true)]
    [InlineData("/r", "/r", false)]
    [InlineData("/r", "/r2/a", false)]
    [InlineData("/r", "/r/a/../../x", false)]
    [InlineData("/r/s", "/r/s/../t", false)]
    public void Inside_means_strictly_below_after_normalisation(string root, string path, bool inside)
    {
        Assert.Equal(inside, SafePath.IsInside(root, path));
    }
}
