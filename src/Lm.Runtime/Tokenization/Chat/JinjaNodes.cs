using System.Text;

namespace Lm.Runtime.Tokenization.Chat;

/// <summary>
/// The state of one rendering: the output, the variable scopes (a <c>for</c> body is a scope of its own, so a
/// <c>set</c> inside a loop does not leak out of it, as in Jinja; <c>if</c> is not), and the character spans written
/// inside <c>{% generation %}</c> blocks.
/// </summary>
internal sealed class JinjaContext(Dictionary<string, object?> globals)
{
    private readonly List<Dictionary<string, object?>> _scopes = [globals];

    public StringBuilder Output { get; } = new();

    public List<(int Start, int End)> GenerationSpans { get; } = [];

    /// <summary>The statement being rendered, for error positions.</summary>
    public JinjaToken Current { get; set; }

    public object? Lookup(string name)
    {
        for (int i = _scopes.Count - 1; i >= 0; i--)
            if (_scopes[i].TryGetValue(name, out object? value)) return value;
        return new JinjaUndefined(name);
    }

    public void Assign(string name, object? value) => _scopes[^1][name] = value;

    public void PushScope() => _scopes.Add(new Dictionary<string, object?>(StringComparer.Ordinal));

    public void PopScope() => _scopes.RemoveAt(_scopes.Count - 1);
}

internal abstract class JinjaNode(JinjaToken at)
{
    public JinjaToken At { get; } = at;

    public abstract void Render(JinjaContext context);

    public static void RenderAll(IReadOnlyList<JinjaNode> nodes, JinjaContext context)
    {
        foreach (var node in nodes) node.Render(context);
    }
}

internal sealed class TextNode(JinjaToken at, string text) : JinjaNode(at)
{
    public override void Render(JinjaContext context) => context.Output.Append(text);
}

internal sealed class OutputNode(JinjaToken at, JinjaExpression expression) : JinjaNode(at)
{
    public override void Render(JinjaContext context)
    {
        context.Current = At;
        context.Output.Append(JinjaValues.Str(expression.Evaluate(context)));
    }
}

internal sealed class IfNode(JinjaToken at, List<(JinjaExpression Condition, List<JinjaNode> Body)> branches, List<JinjaNode>? otherwise) : JinjaNode(at)
{
    public override void Render(JinjaContext context)
    {
        foreach (var (condition, body) in branches)
        {
            context.Current = condition.At;
            if (JinjaValues.Truthy(condition.Evaluate(context)))
            {
                RenderAll(body, context);
                return;
            }
        }
        if (otherwise is not null) RenderAll(otherwise, context);
    }
}

/// <summary>The <c>loop</c> variable of a <c>for</c>.</summary>
internal sealed class JinjaLoop(List<object?> items)
{
    public int Index0 { get; set; }

    public object? Attribute(string name) => name switch
    {
        "index0" => (long)Index0,
        "index" => (long)Index0 + 1,
        "revindex0" => (long)(items.Count - Index0 - 1),
        "revindex" => (long)(items.Count - Index0),
        "first" => Index0 == 0,
        "last" => Index0 == items.Count - 1,
        "length" => (long)items.Count,
        "previtem" => Index0 > 0 ? items[Index0 - 1] : new JinjaUndefined("loop.previtem"),
        "nextitem" => Index0 + 1 < items.Count ? items[Index0 + 1] : new JinjaUndefined("loop.nextitem"),
        "depth" => 1L,
        "depth0" => 0L,
        _ => throw new JinjaUnsupportedException($"loop.{name}"),
    };
}

internal sealed class ForNode(JinjaToken at, IReadOnlyList<string> targets, JinjaExpression iterable, JinjaExpression? filter,
    List<JinjaNode> body, List<JinjaNode>? otherwise) : JinjaNode(at)
{
    public override void Render(JinjaContext context)
    {
        context.Current = At;
        var items = JinjaValues.Iterate(iterable.Evaluate(context));
        if (filter is not null)
        {
            // "for x in xs if cond": the items are filtered first, so loop.index counts only those kept.
            var kept = new List<object?>();
            foreach (var item in items)
            {
                context.PushScope();
                Bind(context, item);
                if (JinjaValues.Truthy(filter.Evaluate(context))) kept.Add(item);
                context.PopScope();
            }
            items = kept;
        }
        if (items.Count == 0)
        {
            if (otherwise is not null) RenderAll(otherwise, context);
            return;
        }
        var loop = new JinjaLoop(items);
        for (int i = 0; i < items.Count; i++)
        {
            loop.Index0 = i;
            context.PushScope();
            try
            {
                context.Assign("loop", loop);
                Bind(context, items[i]);
                RenderAll(body, context);
            }
            catch (LoopContinue)
            {
            }
            catch (LoopBreak)
            {
                break;
            }
            finally
            {
                context.PopScope();
            }
        }
    }

    private void Bind(JinjaContext context, object? item)
    {
        if (targets.Count == 1)
        {
            context.Assign(targets[0], item);
            return;
        }
        var parts = JinjaValues.Iterate(item);
        if (parts.Count != targets.Count)
            throw new JinjaRuntimeException($"cannot unpack {parts.Count} values into {targets.Count} loop variables");
        for (int i = 0; i < targets.Count; i++) context.Assign(targets[i], parts[i]);
    }
}

internal sealed class LoopBreak : Exception;

internal sealed class LoopContinue : Exception;

internal sealed class LoopControlNode(JinjaToken at, bool isBreak) : JinjaNode(at)
{
    public override void Render(JinjaContext context) => throw (isBreak ? new LoopBreak() : new LoopContinue());
}

/// <summary><c>{% set x = ... %}</c>, <c>{% set a, b = ... %}</c> or <c>{% set ns.attr = ... %}</c> on a namespace.</summary>
internal sealed class SetNode(JinjaToken at, IReadOnlyList<string> targets, string? attribute, JinjaExpression value) : JinjaNode(at)
{
    public override void Render(JinjaContext context)
    {
        context.Current = At;
        object? result = value.Evaluate(context);
        if (attribute is not null)
        {
            if (context.Lookup(targets[0]) is not JinjaNamespace ns)
                throw new JinjaRuntimeException($"cannot assign attribute on non-namespace object '{targets[0]}'");
            ns.Attributes[attribute] = result;
            return;
        }
        if (targets.Count == 1)
        {
            context.Assign(targets[0], result);
            return;
        }
        var parts = JinjaValues.Iterate(result);
        if (parts.Count != targets.Count)
            throw new JinjaRuntimeException($"cannot unpack {parts.Count} values into {targets.Count} names");
        for (int i = 0; i < targets.Count; i++) context.Assign(targets[i], parts[i]);
    }
}

/// <summary>transformers' <c>{% generation %}</c> block: what it writes is the assistant's, for the assistant tokens mask.</summary>
internal sealed class GenerationNode(JinjaToken at, List<JinjaNode> body) : JinjaNode(at)
{
    public override void Render(JinjaContext context)
    {
        int start = context.Output.Length;
        RenderAll(body, context);
        if (context.Output.Length > start) context.GenerationSpans.Add((start, context.Output.Length));
    }
}
