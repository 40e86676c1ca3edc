using System.Text;
using Lm.Runtime.Checkpoints;
using Lm.Runtime.Errors;
using Lm.Runtime.Files;

namespace Lm.Runtime.Tests.Files;

public class JsonFieldsTests
{
    private const string Code = "LM0430";

    private static JsonFields Parse(string json) => JsonFields.Parse(Encoding.UTF8.GetBytes(json), "state.json", Code);

    private static LmException Fails(Action read)
    {
        var error = Assert.Throws<LmException>(read);
        Assert.Equal(Code, error.Code);
        Assert.Equal("state.json", error.File);
        return error;
    }

    [Fact]
    public void Values_of_the_right_type_are_read_and_null_or_absent_keys_are_null()
    {
        var json = Parse("""{"s": "text", "b": true, "i": 7, "f": 5.0, "d": 0.25, "n": null, "o": {"x": 1}, "l": [1, 2]}""");
        Assert.Equal("text", json.String("s"));
        Assert.True(json.Bool("b"));
        Assert.Equal(7, json.Int("i"));
        Assert.Equal(5, json.Long("f"));           // Python writes whole floats as 5.0
        Assert.Equal(0.25, json.Double("d"));
        Assert.Null(json.Int("n"));
        Assert.Null(json.String("absent"));
        Assert.Equal(1, json.Object("o")!.Int("x"));
        Assert.Equal([1L, 2L], json.LongOrList("l"));
        Assert.Equal([7L], json.LongOrList("i"));
    }

    [Fact]
    public void Values_built_in_memory_read_as_parsed_ones_do()
    {
        var json = new JsonFields(new System.Text.Json.Nodes.JsonObject { ["i"] = 3, ["d"] = 0.5f, ["b"] = false, ["s"] = "x" }, "made.json", Code);
        Assert.Equal(3, json.Int("i"));
        Assert.Equal(0.5, json.Double("d"));
        Assert.False(json.Bool("b"));
        Assert.Equal("x", json.String("s"));
        Assert.Contains("\"s\" must be a whole number", Assert.Throws<LmException>(() => json.Int("s")).Message);
    }

    [Theory]
    [InlineData("""{"k": "5"}""", "\"k\" must be a whole number")]
    [InlineData("""{"k": 1.5}""", "\"k\" must be a whole number")]
    [InlineData("""{"k": 1e30}""", "\"k\" must be a whole number")]
    [InlineData("""{"k": true}""", "\"k\" must be a whole number")]
    [InlineData("""{"k": -5}""", "\"k\" must be between 0 and 2147483647, not -5")]
    [InlineData("""{"k": 3000000000}""", "\"k\" must be between 0 and 2147483647, not 3000000000")]
    public void A_wrong_whole_number_names_the_file_and_key(string text, string message)
    {
        var json = Parse(text);
        Assert.StartsWith($"state.json: {message}", Fails(() => json.Int("k", min: 0)).Message);
    }

    [Fact]
    public void Nested_keys_are_named_with_their_path()
    {
        var json = Parse("""{"outer": {"items": [{"step": "x"}]}}""");
        var error = Fails(() => json.Object("outer")!.Objects("items").Single().Int("step"));
        Assert.Equal("state.json: \"outer.items[0].step\" must be a whole number", error.Message);
        Assert.Equal("state.json: \"l[1]\" must be a whole number", Fails(() => Parse("""{"l": [1, "2"]}""").LongOrList("l")).Message);
    }

    [Fact]
    public void Wrong_types_of_strings_flags_numbers_objects_and_lists_fail()
    {
        var json = Parse("""{"v": 1, "s": "a"}""");
        Assert.Contains("\"v\" must be a string", Fails(() => json.String("v")).Message);
        Assert.Contains("\"v\" must be true or false", Fails(() => json.Bool("v")).Message);
        Assert.Contains("\"s\" must be a number", Fails(() => json.Double("s")).Message);
        Assert.Contains("\"v\" must be an object", Fails(() => json.Object("v")).Message);
        Assert.Contains("\"v\" must be a list", Fails(() => json.Array("v")).Message);
        Assert.Contains("\"missing\" is missing", Fails(() => json.RequiredLong("missing")).Message);
    }

    [Fact]
    public void A_lone_surrogate_escape_anywhere_is_refused_when_the_file_is_parsed()
    {
        Assert.Equal("state.json: \"s\" is not valid text (an unpaired UTF-16 surrogate escape)",
            Fails(() => Parse("""{"s": "bad \ud800 text"}""")).Message);
        Assert.Contains("\"o.l[1]\" is not valid text", Fails(() => Parse("""{"o": {"l": ["ok", "\udfff"]}}""")).Message);
        Assert.Contains("\"o.<key>\" is not valid text", Fails(() => Parse("""{"o": {"\ud800": 1}}""")).Message);
        Assert.Equal("fine \ud83d\ude00", Parse("""{"s": "fine \ud83d\ude00"}""").String("s"));
    }

    [Fact]
    public void Syntax_errors_and_other_top_level_values_are_the_files_code()
    {
        Assert.Contains("not valid JSON", Fails(() => Parse("{\"a\": 1,")).Message);
        Assert.Contains("expected a JSON object", Fails(() => Parse("[1]")).Message);
    }
}
