using System.Globalization;

namespace Lm.Runtime.Tokenization.Chat;

/// <summary>
/// Jinja's grammar for the subset chat templates use, with Jinja's precedence: conditional expression, <c>or</c>,
/// <c>and</c>, <c>not</c>, comparisons and <c>in</c>, <c>+</c>/<c>-</c>, <c>~</c>, <c>*</c>/<c>/</c>/<c>//</c>/<c>%</c>,
/// <c>**</c>, unary signs, then primaries with attribute, item, slice and call suffixes, filters (<c>|</c>) and tests
/// (<c>is</c>) binding tightest, so <c>a | trim + b</c> is <c>(a | trim) + b</c>. Tags: <c>if/elif/else</c>,
/// <c>for ... in ... [if ...]</c> with <c>else</c>, <c>set</c> (names, tuples, <c>ns.attr</c>), <c>break</c>,
/// <c>continue</c> and transformers' <c>generation</c>. Anything else is LM0330 naming the construct and position.
/// </summary>
internal sealed class JinjaParser
{
    private static readonly string[] UnsupportedTags =
        ["macro", "call", "filter", "block", "extends", "include", "import", "from", "with", "raw", "autoescape", "do", "trans", "endset"];

    private readonly List<JinjaToken> _tokens;
    private int _position;

    private JinjaParser(List<JinjaToken> tokens) => _tokens = tokens;

    private bool _sawGeneration;

    public static List<JinjaNode> Parse(string source, out bool hasGenerationBlocks)
    {
        var parser = new JinjaParser(JinjaLexer.Tokenize(source));
        var nodes = parser.ParseBody([], out _);
        hasGenerationBlocks = parser._sawGeneration;
        return nodes;
    }

    private JinjaToken Peek(int offset = 0) => _tokens[Math.Min(_position + offset, _tokens.Count - 1)];

    private JinjaToken Next() => _tokens[Math.Min(_position++, _tokens.Count - 1)];

    private JinjaToken Expect(JinjaTokenKind kind, string? value, string what)
    {
        var token = Peek();
        if (token.Kind != kind || (value is not null && token.Value != value))
            throw JinjaErrors.Syntax($"expected {what}, found {Describe(token)}", token);
        return Next();
    }

    private static string Describe(JinjaToken token) => token.Kind switch
    {
        JinjaTokenKind.End => "the end of the template",
        JinjaTokenKind.BlockEnd => "'%}'",
        JinjaTokenKind.VariableEnd => "'}}'",
        JinjaTokenKind.String => "a string",
        _ => $"'{token.Value}'",
    };

    /// <summary>Nodes up to a block tag named in <paramref name="ends"/> (returned in <paramref name="end"/>, consumed up to its name).</summary>
    private List<JinjaNode> ParseBody(string[] ends, out JinjaToken end)
    {
        var nodes = new List<JinjaNode>();
        while (true)
        {
            var token = Peek();
            switch (token.Kind)
            {
                case JinjaTokenKind.End:
                    if (ends.Length > 0) throw JinjaErrors.Syntax($"expected '{{% {ends[^1]} %}}' before the end of the template", token);
                    end = token;
                    return nodes;
                case JinjaTokenKind.Text:
                    Next();
                    nodes.Add(new TextNode(token, token.Value));
                    break;
                case JinjaTokenKind.VariableBegin:
                    Next();
                    nodes.Add(new OutputNode(token, ParseExpression()));
                    Expect(JinjaTokenKind.VariableEnd, null, "'}}'");
                    break;
                case JinjaTokenKind.BlockBegin:
                    var name = Peek(1);
                    if (name.Kind == JinjaTokenKind.Name && ends.Contains(name.Value))
                    {
                        _position += 2;
                        end = name;
                        return nodes;
                    }
                    Next();
                    nodes.Add(ParseStatement());
                    break;
                default:
                    throw JinjaErrors.Syntax($"unexpected {Describe(token)}", token);
            }
        }
    }

    private JinjaNode ParseStatement()
    {
        var keyword = Peek();
        if (keyword.Kind != JinjaTokenKind.Name) throw JinjaErrors.Syntax($"expected a tag name, found {Describe(keyword)}", keyword);
        Next();
        switch (keyword.Value)
        {
            case "if": return ParseIf(keyword);
            case "for": return ParseFor(keyword);
            case "set": return ParseSet(keyword);
            case "generation":
                _sawGeneration = true;
                Expect(JinjaTokenKind.BlockEnd, null, "'%}'");
                var body = ParseBody(["endgeneration"], out _);
                Expect(JinjaTokenKind.BlockEnd, null, "'%}'");
                return new GenerationNode(keyword, body);
            case "break":
            case "continue":
                Expect(JinjaTokenKind.BlockEnd, null, "'%}'");
                return new LoopControlNode(keyword, keyword.Value == "break");
            default:
                if (UnsupportedTags.Contains(keyword.Value)) throw JinjaErrors.Unsupported($"the tag '{{% {keyword.Value} %}}'", keyword);
                throw JinjaErrors.Syntax($"unknown tag '{keyword.Value}'", keyword);
        }
    }

    private JinjaNode ParseIf(JinjaToken keyword)
    {
        var branches = new List<(JinjaExpression, List<JinjaNode>)>();
        List<JinjaNode>? otherwise = null;
        var condition = ParseExpression();
        while (true)
        {
            Expect(JinjaTokenKind.BlockEnd, null, "'%}'");
            var body = ParseBody(["elif", "else", "endif"], out var end);
            branches.Add((condition, body));
            if (end.Value == "elif")
            {
                condition = ParseExpression();
                continue;
            }
            if (end.Value == "else")
            {
                Expect(JinjaTokenKind.BlockEnd, null, "'%}'");
                otherwise = ParseBody(["endif"], out _);
            }
            Expect(JinjaTokenKind.BlockEnd, null, "'%}'");
            return new IfNode(keyword, branches, otherwise);
        }
    }

    private JinjaNode ParseFor(JinjaToken keyword)
    {
        var targets = ParseTargets();
        Expect(JinjaTokenKind.Name, "in", "'in'");
        var iterable = ParseOr();
        JinjaExpression? filter = null;
        if (Peek().IsName("if"))
        {
            Next();
            filter = ParseOr();
        }
        if (Peek().IsName("recursive")) throw JinjaErrors.Unsupported("a recursive loop", Peek());
        Expect(JinjaTokenKind.BlockEnd, null, "'%}'");
        var body = ParseBody(["else", "endfor"], out var end);
        List<JinjaNode>? otherwise = null;
        if (end.Value == "else")
        {
            Expect(JinjaTokenKind.BlockEnd, null, "'%}'");
            otherwise = ParseBody(["endfor"], out _);
        }
        Expect(JinjaTokenKind.BlockEnd, null, "'%}'");
        return new ForNode(keyword, targets, iterable, filter, body, otherwise);
    }

    private List<string> ParseTargets()
    {
        var targets = new List<string>();
        bool parenthesized = Peek().IsOperator("(");
        if (parenthesized) Next();
        do
        {
            targets.Add(Expect(JinjaTokenKind.Name, null, "a variable name").Value);
        } while (Peek().IsOperator(",") && Next().Kind == JinjaTokenKind.Operator);
        if (parenthesized) Expect(JinjaTokenKind.Operator, ")", "')'");
        return targets;
    }

    private JinjaNode ParseSet(JinjaToken keyword)
    {
        var targets = ParseTargets();
        string? attribute = null;
        if (targets.Count == 1 && Peek().IsOperator("."))
        {
            Next();
            attribute = Expect(JinjaTokenKind.Name, null, "an attribute name").Value;
        }
        if (Peek().Kind == JinjaTokenKind.BlockEnd) throw JinjaErrors.Unsupported("a block '{% set %}...{% endset %}'", keyword);
        Expect(JinjaTokenKind.Operator, "=", "'='");
        var value = ParseTuple();
        Expect(JinjaTokenKind.BlockEnd, null, "'%}'");
        return new SetNode(keyword, targets, attribute, value);
    }

    /// <summary>An expression, or several separated by commas (a tuple, held as a list).</summary>
    private JinjaExpression ParseTuple()
    {
        var first = ParseExpression();
        if (!Peek().IsOperator(",")) return first;
        var items = new List<JinjaExpression> { first };
        while (Peek().IsOperator(","))
        {
            Next();
            if (Peek().Kind is JinjaTokenKind.BlockEnd or JinjaTokenKind.VariableEnd) break;
            items.Add(ParseExpression());
        }
        return new ListExpression(first.At, items);
    }

    private JinjaExpression ParseExpression()
    {
        var value = ParseOr();
        if (!Peek().IsName("if")) return value;
        var at = Next();
        var condition = ParseOr();
        JinjaExpression? otherwise = null;
        if (Peek().IsName("else"))
        {
            Next();
            otherwise = ParseExpression();
        }
        return new ConditionalExpression(at, value, condition, otherwise);
    }

    private JinjaExpression ParseOr()
    {
        var left = ParseAnd();
        while (Peek().IsName("or"))
        {
            var at = Next();
            left = new BinaryExpression(at, "or", left, ParseAnd());
        }
        return left;
    }

    private JinjaExpression ParseAnd()
    {
        var left = ParseNot();
        while (Peek().IsName("and"))
        {
            var at = Next();
            left = new BinaryExpression(at, "and", left, ParseNot());
        }
        return left;
    }

    private JinjaExpression ParseNot()
    {
        if (Peek().IsName("not"))
        {
            var at = Next();
            return new NotExpression(at, ParseNot());
        }
        return ParseCompare();
    }

    private JinjaExpression ParseCompare()
    {
        var left = ParseMath1();
        while (true)
        {
            var token = Peek();
            string? op = token.Kind == JinjaTokenKind.Operator && token.Value is "==" or "!=" or "<" or ">" or "<=" or ">=" ? token.Value
                : token.IsName("in") ? "in"
                : token.IsName("not") && Peek(1).IsName("in") ? "not in"
                : null;
            if (op is null) return left;
            Next();
            if (op == "not in") Next();
            // Chained comparisons (a < b < c) are rare in templates; they evaluate left to right as nested pairs.
            left = new BinaryExpression(token, op, left, ParseMath1());
        }
    }

    private JinjaExpression ParseMath1()
    {
        var left = ParseConcat();
        while (Peek().Kind == JinjaTokenKind.Operator && Peek().Value is "+" or "-")
        {
            var at = Next();
            left = new BinaryExpression(at, at.Value, left, ParseConcat());
        }
        return left;
    }

    private JinjaExpression ParseConcat()
    {
        var left = ParseMath2();
        while (Peek().IsOperator("~"))
        {
            var at = Next();
            left = new BinaryExpression(at, "~", left, ParseMath2());
        }
        return left;
    }

    private JinjaExpression ParseMath2()
    {
        var left = ParsePow();
        while (Peek().Kind == JinjaTokenKind.Operator && Peek().Value is "*" or "/" or "//" or "%")
        {
            var at = Next();
            left = new BinaryExpression(at, at.Value, left, ParsePow());
        }
        return left;
    }

    private JinjaExpression ParsePow()
    {
        var left = ParseUnary();
        while (Peek().IsOperator("**"))
        {
            var at = Next();
            left = new BinaryExpression(at, "**", left, ParseUnary());
        }
        return left;
    }

    private JinjaExpression ParseUnary()
    {
        var token = Peek();
        JinjaExpression node;
        if (token.Kind == JinjaTokenKind.Operator && token.Value is "-" or "+")
        {
            Next();
            node = new NegateExpression(token, ParseUnary(), token.Value == "-");
        }
        else
        {
            node = ParsePostfix(ParsePrimary());
        }
        return ParseFilters(node);
    }

    private JinjaExpression ParsePrimary()
    {
        var token = Next();
        switch (token.Kind)
        {
            case JinjaTokenKind.Name:
                return token.Value switch
                {
                    "true" or "True" => new LiteralExpression(token, true),
                    "false" or "False" => new LiteralExpression(token, false),
                    "none" or "None" => new LiteralExpression(token, null),
                    _ => new NameExpression(token, token.Value),
                };
            case JinjaTokenKind.String:
                string text = token.Value;
                // Adjacent string literals join, as in Python.
                while (Peek().Kind == JinjaTokenKind.String) text += Next().Value;
                return new LiteralExpression(token, text);
            case JinjaTokenKind.Integer:
                return long.TryParse(token.Value, NumberStyles.None, CultureInfo.InvariantCulture, out long integer)
                    ? new LiteralExpression(token, integer)
                    : throw JinjaErrors.Unsupported("an integer beyond 64 bits", token);
            case JinjaTokenKind.Float:
                return new LiteralExpression(token, double.Parse(token.Value, CultureInfo.InvariantCulture));
            case JinjaTokenKind.Operator when token.Value == "(":
                if (Peek().IsOperator(")"))
                {
                    Next();
                    return new ListExpression(token, []);
                }
                var inner = ParseTuple();
                Expect(JinjaTokenKind.Operator, ")", "')'");
                return inner;
            case JinjaTokenKind.Operator when token.Value == "[":
                var items = new List<JinjaExpression>();
                while (!Peek().IsOperator("]"))
                {
                    items.Add(ParseExpression());
                    if (!Peek().IsOperator(",")) break;
                    Next();
                }
                Expect(JinjaTokenKind.Operator, "]", "']'");
                return new ListExpression(token, items);
            case JinjaTokenKind.Operator when token.Value == "{":
                var pairs = new List<(JinjaExpression, JinjaExpression)>();
                while (!Peek().IsOperator("}"))
                {
                    var key = ParseExpression();
                    Expect(JinjaTokenKind.Operator, ":", "':'");
                    pairs.Add((key, ParseExpression()));
                    if (!Peek().IsOperator(",")) break;
                    Next();
                }
                Expect(JinjaTokenKind.Operator, "}", "'}'");
                return new DictExpression(token, pairs);
            default:
                throw JinjaErrors.Syntax($"unexpected {Describe(token)}", token);
        }
    }

    private JinjaExpression ParsePostfix(JinjaExpression node)
    {
        while (true)
        {
            var token = Peek();
            if (token.IsOperator("."))
            {
                Next();
                var name = Next();
                node = name.Kind switch
                {
                    JinjaTokenKind.Name => new AttributeExpression(name, node, name.Value),
                    JinjaTokenKind.Integer => new ItemExpression(name, node, new LiteralExpression(name, long.Parse(name.Value, CultureInfo.InvariantCulture))),
                    _ => throw JinjaErrors.Syntax($"expected an attribute name after '.', found {Describe(name)}", name),
                };
            }
            else if (token.IsOperator("["))
            {
                Next();
                node = ParseSubscript(token, node);
            }
            else if (token.IsOperator("("))
            {
                Next();
                var (args, kwargs) = ParseArguments();
                node = new CallExpression(token, node, args, kwargs);
            }
            else
            {
                return node;
            }
        }
    }

    private JinjaExpression ParseSubscript(JinjaToken at, JinjaExpression target)
    {
        JinjaExpression? start = null, stop = null, step = null;
        if (!Peek().IsOperator(":")) start = ParseExpression();
        if (!Peek().IsOperator(":"))
        {
            Expect(JinjaTokenKind.Operator, "]", "']'");
            return new ItemExpression(at, target, start!);
        }
        Next();
        if (!Peek().IsOperator("]") && !Peek().IsOperator(":")) stop = ParseExpression();
        if (Peek().IsOperator(":"))
        {
            Next();
            if (!Peek().IsOperator("]")) step = ParseExpression();
        }
        Expect(JinjaTokenKind.Operator, "]", "']'");
        return new SliceExpression(at, target, start, stop, step);
    }

    /// <summary>Call arguments after '(' up to and including ')'.</summary>
    private (List<JinjaExpression> Args, List<(string, JinjaExpression)> Kwargs) ParseArguments()
    {
        var args = new List<JinjaExpression>();
        var kwargs = new List<(string, JinjaExpression)>();
        while (!Peek().IsOperator(")"))
        {
            if (Peek().IsOperator("*") || Peek().IsOperator("**")) throw JinjaErrors.Unsupported("argument unpacking (*args, **kwargs)", Peek());
            if (Peek().Kind == JinjaTokenKind.Name && Peek(1).IsOperator("="))
            {
                string name = Next().Value;
                Next();
                kwargs.Add((name, ParseExpression()));
            }
            else
            {
                args.Add(ParseExpression());
            }
            if (!Peek().IsOperator(",")) break;
            Next();
        }
        Expect(JinjaTokenKind.Operator, ")", "')'");
        return (args, kwargs);
    }

    private JinjaExpression ParseFilters(JinjaExpression node)
    {
        while (true)
        {
            var token = Peek();
            if (token.IsOperator("|"))
            {
                Next();
                var name = Expect(JinjaTokenKind.Name, null, "a filter name");
                List<JinjaExpression> args = [];
                List<(string, JinjaExpression)> kwargs = [];
                if (Peek().IsOperator("("))
                {
                    Next();
                    (args, kwargs) = ParseArguments();
                }
                node = new FilterExpression(name, node, name.Value, args, kwargs);
            }
            else if (token.IsName("is"))
            {
                Next();
                bool negated = false;
                if (Peek().IsName("not"))
                {
                    Next();
                    negated = true;
                }
                var name = Next();
                if (name.Kind != JinjaTokenKind.Name && !(name.Kind == JinjaTokenKind.Operator && name.Value is "==" or "!="))
                    throw JinjaErrors.Syntax($"expected a test name after 'is', found {Describe(name)}", name);
                var args = new List<JinjaExpression>();
                if (Peek().IsOperator("("))
                {
                    Next();
                    var (positional, named) = ParseArguments();
                    if (named.Count > 0) throw JinjaErrors.Unsupported("a test with keyword arguments", name);
                    args = positional;
                }
                else if (Peek().Kind is JinjaTokenKind.String or JinjaTokenKind.Integer or JinjaTokenKind.Float
                    || (Peek().Kind == JinjaTokenKind.Name && Peek().Value is not ("and" or "or" or "else" or "if" or "is" or "not" or "in")))
                {
                    // "is divisibleby 3", "is sameas none": one argument without parentheses.
                    args.Add(ParsePostfix(ParsePrimary()));
                }
                node = new TestExpression(name, node, name.Value, args, negated);
            }
            else
            {
                return node;
            }
        }
    }
}
