using Lm.Runtime.Errors;

namespace Lm.Runtime.Tokenization.Chat;

/// <summary>What a template wrote, and the character spans its <c>{% generation %}</c> blocks wrote.</summary>
public sealed record RenderedTemplate(string Text, IReadOnlyList<(int Start, int End)> GenerationSpans);

/// <summary>
/// A Jinja template in the subset chat templates use, parsed once and rendered many times (thread-safe), with the
/// environment transformers gives chat templates: <c>trim_blocks</c>, <c>lstrip_blocks</c>, the
/// <c>loopcontrols</c> extension, the <c>generation</c> tag, <c>raise_exception</c>, <c>strftime_now</c> and its
/// <c>tojson</c>. Undefined values print as nothing and are false (Jinja's default <c>Undefined</c>).
/// Syntax outside the subset is LM0330 at parse time, malformed templates LM0331; rendering errors are LM0332 and
/// <c>raise_exception</c> LM0333, each naming the position.
/// </summary>
public sealed class JinjaTemplate
{
    private readonly List<JinjaNode> _nodes;

    private JinjaTemplate(string source, List<JinjaNode> nodes, bool hasGenerationBlocks)
    {
        Source = source;
        _nodes = nodes;
        HasGenerationBlocks = hasGenerationBlocks;
    }

    /// <summary>The template text as given.</summary>
    public string Source { get; }

    /// <summary>Whether the template marks the assistant's output with <c>{% generation %}</c>.</summary>
    public bool HasGenerationBlocks { get; }

    public static JinjaTemplate Parse(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var nodes = JinjaParser.Parse(JinjaLexer.Normalize(source), out bool hasGenerationBlocks);
        return new JinjaTemplate(source, nodes, hasGenerationBlocks);
    }

    /// <summary>
    /// Renders with <paramref name="variables"/> (strings, numbers, booleans, null, lists and string-keyed
    /// dictionaries of those). <paramref name="now"/> is the clock <c>strftime_now</c> reads (local time by default,
    /// as Python's <c>datetime.now()</c>).
    /// </summary>
    public RenderedTemplate Render(IReadOnlyDictionary<string, object?> variables, Func<DateTime>? now = null)
    {
        var globals = JinjaBuiltins.Globals(now ?? (() => DateTime.Now));
        foreach (var (name, value) in variables) globals[name] = Convert(value);
        var context = new JinjaContext(globals);
        try
        {
            JinjaNode.RenderAll(_nodes, context);
        }
        catch (JinjaRaisedException e)
        {
            throw new LmException(ErrorCodes.ChatTemplateRaised, $"chat template: {e.Message} (raise_exception at {context.Current.Where})");
        }
        catch (JinjaUnsupportedException e)
        {
            throw new LmException(ErrorCodes.ChatTemplateUnsupported,
                $"chat template: {e.Message} at {context.Current.Where} is not supported by lm-tune's Jinja subset");
        }
        catch (Exception e) when (e is JinjaRuntimeException or OverflowException or InvalidCastException)
        {
            throw new LmException(ErrorCodes.ChatTemplateRenderFailed, $"chat template: {e.Message} at {context.Current.Where}");
        }
        catch (LoopBreak)
        {
            throw new LmException(ErrorCodes.ChatTemplateSyntax, $"chat template: 'break' outside a loop at {context.Current.Where}");
        }
        catch (LoopContinue)
        {
            throw new LmException(ErrorCodes.ChatTemplateSyntax, $"chat template: 'continue' outside a loop at {context.Current.Where}");
        }
        return new RenderedTemplate(context.Output.ToString(), context.GenerationSpans);
    }

    private static object? Convert(object? value) => value switch
    {
        null or string or bool or long or double => value,
        int i => (long)i,
        float f => (double)f,
        System.Text.Json.Nodes.JsonNode node => JinjaValues.FromJson(node),
        IReadOnlyDictionary<string, object?> dict => dict.ToDictionary(p => p.Key, p => Convert(p.Value), StringComparer.Ordinal),
        IDictionary<string, string> dict => dict.ToDictionary(p => p.Key, p => (object?)p.Value, StringComparer.Ordinal),
        System.Collections.IEnumerable items => items.Cast<object?>().Select(Convert).ToList(),
        _ => throw new ArgumentException($"a template variable of type {value.GetType().Name} is not supported", nameof(value)),
    };
}
