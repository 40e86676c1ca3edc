using Lm.Runtime.Errors;
using Lm.Runtime.Tokenization.Chat;

namespace Lm.Runtime.Tests.Tokenization.Chat;

/// <summary>
/// The interpreter against what Jinja 3 (with transformers' trim_blocks and lstrip_blocks) prints for small
/// templates; each expectation is Jinja's documented behaviour worked out by hand.
/// </summary>
public class JinjaTemplateTests
{
    private static string Render(string template, Dictionary<string, object?>? variables = null) =>
        JinjaTemplate.Parse(template).Render(variables ?? []).Text;

    [Fact]
    public void Trim_blocks_drops_the_newline_after_a_tag_and_lstrip_blocks_the_indent_before_it()
    {
        string template = "<ul>\n  {% for x in xs %}\n  <li>{{ x }}</li>\n  {% endfor %}\n</ul>\n";
        Assert.Equal("<ul>\n  <li>1</li>\n  <li>2</li>\n</ul>", Render(template, new() { ["xs"] = new List<object?> { 1L, 2L } }));
    }

    [Fact]
    public void Minus_signs_strip_all_whitespace_beside_the_tag_and_variable_tags_keep_their_newline()
    {
        Assert.Equal("ab", Render("a  \n {%- if true -%} \n\n b{% endif %}"));
        Assert.Equal("x\ny", Render("{{ 'x' }}\n{{ 'y' }}"));
        Assert.Equal("xy", Render("{{ 'x' -}}\n  {{- 'y' }}"));
        Assert.Equal("a\n", Render("a\n{# note #}\n"));
    }

    [Fact]
    public void Loop_variables_follow_jinja()
    {
        string template = "{% for x in 'abc' %}{{ loop.index0 }}{{ loop.index }}{{ loop.revindex }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}";
        Assert.Equal("013True False3;122False False3;231False True3;", Render(template.Replace("}}{{ loop.last", "}} {{ loop.last")));
    }

    [Fact]
    public void Set_inside_a_loop_does_not_leak_but_a_namespace_carries_the_value_out()
    {
        string template = "{% set n = 0 %}{% set ns = namespace(n=0) %}{% for x in [1, 2, 3] %}{% set n = n + x %}{% set ns.n = ns.n + x %}{% endfor %}{{ n }} {{ ns.n }}";
        Assert.Equal("0 6", Render(template));
    }

    [Fact]
    public void Slices_indexes_filters_and_tests_behave_as_python()
    {
        var variables = new Dictionary<string, object?>
        {
            ["messages"] = new List<object?>
            {
                new Dictionary<string, object?> { ["role"] = "system", ["content"] = "  S  " },
                new Dictionary<string, object?> { ["role"] = "user", ["content"] = "U" },
            },
        };
        Assert.Equal("1|user|user|S|2|SYSTEM", Render(
            "{{ messages[1:] | length }}|{{ messages[-1].role }}|{{ messages[1:][0]['role'] }}|{{ messages[0].content | trim }}|{{ messages | length }}|{{ messages[0].role | upper }}", variables));
        Assert.Equal("lo|olleh|hlo|True|False|True", Render("{{ 'hello'[3:] }}|{{ 'hello'[::-1] }}|{{ 'hello'[::2] }}|{{ 'ell' in 'hello' }}|{{ 'x' in ['a'] }}|{{ 'role' in messages[0] }}", variables));
        Assert.Equal("True|True|False|True|True", Render("{{ tools is none }}|{{ missing is not defined }}|{{ messages is string }}|{{ 'a' is string }}|{{ messages[0] is mapping }}",
            new() { ["tools"] = null, ["messages"] = variables["messages"] }));
        Assert.Equal("fallback|x|", Render("{{ missing | default('fallback') }}|{{ 'x' | default('y') }}|{{ missing }}"));
        Assert.Equal("a1-b2", Render("{{ 'a' ~ 1 }}-{{ 'b' + '2' }}"));
        Assert.Equal("1|-2|2.5|2|8|None|True", Render("{{ 7 % 3 }}|{{ -7 // 6 }}|{{ 5 / 2 }}|{{ 5 // 2 }}|{{ 2 ** 3 }}|{{ none }}|{{ 1 == 1.0 }}"));
    }

    [Fact]
    public void Tojson_writes_as_transformers_json_dumps_does()
    {
        var tool = new Dictionary<string, object?>
        {
            ["name"] = "get_weather",
            ["parameters"] = new Dictionary<string, object?> { ["city"] = "Zürich", ["days"] = 2L, ["ok"] = true, ["note"] = null },
            ["tags"] = new List<object?> { "a", 1.5 },
        };
        Assert.Equal("{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Zürich\", \"days\": 2, \"ok\": true, \"note\": null}, \"tags\": [\"a\", 1.5]}",
            Render("{{ t | tojson }}", new() { ["t"] = tool }));
        Assert.Equal("{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {}\n}",
            Render("{{ t | tojson(indent=2) }}", new() { ["t"] = new Dictionary<string, object?> { ["a"] = new List<object?> { 1L, 2L }, ["b"] = new Dictionary<string, object?>() } }));
    }

    [Fact]
    public void If_elif_else_and_conditional_expressions_pick_one_branch()
    {
        string template = "{% for n in [1, 2, 3] %}{% if n == 1 %}one{% elif n == 2 %}two{% else %}many{% endif %}{{ ',' if not loop.last }}{% endfor %}";
        Assert.Equal("one,two,many", Render(template));
        Assert.Equal("b", Render("{% for x in [] %}a{% else %}b{% endfor %}"));
        Assert.Equal("13", Render("{% for x in [1, 2, 3, 4] %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}"));
        Assert.Equal("ab", Render("{% for x in ['a', '', 'b'] if x %}{{ x }}{% endfor %}"));
    }

    [Fact]
    public void String_methods_work_as_python()
    {
        Assert.Equal("x|a,b|True|False|A B|y", Render("{{ '  x '.strip() }}|{{ 'a b'.split() | join(',') }}|{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x', 'y')) }}|{{ 'a b'.upper() }}|{{ 'xy'.lstrip('x') }}"));
    }

    [Fact]
    public void Unsupported_constructs_are_LM0330_naming_them_and_their_position()
    {
        var error = Assert.Throws<LmException>(() => JinjaTemplate.Parse("hello\n  {% macro greet(name) %}hi{% endmacro %}"));
        Assert.Equal(ErrorCodes.ChatTemplateUnsupported, error.Code);
        Assert.Contains("'{% macro %}'", error.Message);
        Assert.Contains("line 2, column 6", error.Message);

        var filter = Assert.Throws<LmException>(() => Render("{{ 'a' | wordwrap(3) }}"));
        Assert.Equal(ErrorCodes.ChatTemplateUnsupported, filter.Code);
        Assert.Contains("the filter 'wordwrap'", filter.Message);
        Assert.Contains("line 1, column 1", filter.Message);
    }

    [Fact]
    public void Malformed_templates_are_LM0331_and_type_errors_LM0332()
    {
        Assert.Equal(ErrorCodes.ChatTemplateSyntax, Assert.Throws<LmException>(() => JinjaTemplate.Parse("{% if x %}open")).Code);
        Assert.Equal(ErrorCodes.ChatTemplateSyntax, Assert.Throws<LmException>(() => JinjaTemplate.Parse("{{ 'unclosed }}")).Code);
        var typeError = Assert.Throws<LmException>(() => Render("\n{{ 'a' + 1 }}"));
        Assert.Equal(ErrorCodes.ChatTemplateRenderFailed, typeError.Code);
        Assert.Contains("line 2", typeError.Message);
        Assert.Equal(ErrorCodes.ChatTemplateRenderFailed, Assert.Throws<LmException>(() => Render("{{ missing.attribute }}")).Code);
    }
}
