using System.Reflection;
using System.Reflection.Emit;

namespace Lm.Runtime.Tests;

/// <summary>
/// The engine's folders depend one way: a namespace may use its own types and those of the layers below it, never
/// one above. The check reads every type of Lm.Runtime: base type, interfaces, fields, properties, method and
/// constructor signatures, locals, attributes and every type, method or field a method body names (its IL tokens),
/// so a dependency hidden in a method body counts as much as one in a signature.
/// </summary>
public sealed class LayeringTests
{
    // Lower rank = lower layer. Equal ranks are independent of each other; a namespace may use only lower ranks.
    private static readonly Dictionary<string, int> Layers = new()
    {
        ["Lm.Runtime.Errors"] = 0,
        ["Lm.Runtime.Native"] = 1,
        ["Lm.Runtime.Files"] = 1,
        ["Lm.Runtime.Hub"] = 2,
        ["Lm.Runtime.Tokenization"] = 3,
        ["Lm.Runtime.Checkpoints"] = 3,
        ["Lm.Runtime.Models"] = 4,
        ["Lm.Runtime.Data"] = 5,
        ["Lm.Runtime.Evaluation"] = 6,
        ["Lm.Runtime.Generation"] = 6,
        ["Lm.Runtime.Training"] = 7,
        ["Lm.Runtime.Jobs"] = 8,
        ["Lm.Runtime.Configuration"] = 9,
    };

    private static readonly Assembly Runtime = typeof(Lm.Runtime.Errors.LmException).Assembly;

    [Fact]
    public void Every_engine_namespace_has_a_layer()
    {
        var namespaces = Runtime.GetTypes().Select(t => Folder(t.Namespace)).OfType<string>()
            .Where(n => n.StartsWith("Lm.Runtime", StringComparison.Ordinal)).Distinct().Order().ToList();
        Assert.Equal(Layers.Keys.Order(), namespaces);
    }

    [Fact]
    public void Engine_namespaces_depend_only_on_lower_layers()
    {
        var violations = new SortedSet<string>(StringComparer.Ordinal);
        foreach (Type type in Runtime.GetTypes())
        {
            if (Folder(type.Namespace) is not { } from || !Layers.TryGetValue(from, out int fromRank)) continue;
            foreach (Type used in References(type))
            {
                if (Folder(used.Namespace) is not { } to || to == from || !Layers.TryGetValue(to, out int toRank)) continue;
                if (toRank >= fromRank) violations.Add($"{from} -> {to} ({type.FullName} uses {used.FullName})");
            }
        }
        Assert.Empty(violations);
    }

    [Fact]
    public void The_check_sees_a_dependency_inside_a_method_body()
    {
        // Trainer's loop calls the evaluator only in method bodies and fields; the scan must find Evaluation there.
        var used = References(typeof(Lm.Runtime.Training.Trainer)).Select(t => t.Namespace).ToHashSet();
        Assert.Contains("Lm.Runtime.Evaluation", used);
        Assert.Contains("Lm.Runtime.Checkpoints", used);
    }

    /// <summary>The engine folder a namespace belongs to: a sub-folder (Tokenization.TokenizerJson) is part of its folder's layer.</summary>
    private static string? Folder(string? ns)
    {
        if (ns is null || !ns.StartsWith("Lm.Runtime.", StringComparison.Ordinal)) return ns;
        int dot = ns.IndexOf('.', "Lm.Runtime.".Length);
        return dot < 0 ? ns : ns[..dot];
    }

    private const BindingFlags Everything =
        BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    private static IEnumerable<Type> References(Type type)
    {
        var found = new HashSet<Type>();
        void Add(Type? t)
        {
            if (t is null) return;
            if (t.HasElementType) { Add(t.GetElementType()); return; }
            if (t.IsGenericParameter) return;
            if (!found.Add(t)) return;
            if (t.IsGenericType && !t.IsGenericTypeDefinition)
            {
                Add(t.GetGenericTypeDefinition());
                foreach (Type argument in t.GetGenericArguments()) Add(argument);
            }
        }
        void AddAttributes(IEnumerable<CustomAttributeData> attributes)
        {
            foreach (CustomAttributeData attribute in attributes) Add(attribute.AttributeType);
        }

        Add(type.BaseType);
        foreach (Type i in type.GetInterfaces()) Add(i);
        AddAttributes(type.CustomAttributes);
        foreach (FieldInfo field in type.GetFields(Everything)) { Add(field.FieldType); AddAttributes(field.CustomAttributes); }
        foreach (PropertyInfo property in type.GetProperties(Everything)) Add(property.PropertyType);
        foreach (EventInfo e in type.GetEvents(Everything)) Add(e.EventHandlerType);
        foreach (MethodBase method in type.GetMethods(Everything).Cast<MethodBase>().Concat(type.GetConstructors(Everything)))
        {
            if (method is MethodInfo m) Add(m.ReturnType);
            foreach (ParameterInfo parameter in method.GetParameters()) Add(parameter.ParameterType);
            AddAttributes(method.CustomAttributes);
            MethodBody? body = method.GetMethodBody();
            if (body is null) continue;
            foreach (LocalVariableInfo local in body.LocalVariables) Add(local.LocalType);
            foreach (MemberInfo member in MembersNamedBy(method, body.GetILAsByteArray() ?? []))
            {
                Add(member as Type ?? member.DeclaringType);
                if (member is MethodInfo called) Add(called.ReturnType);
                if (member is FieldInfo field) Add(field.FieldType);
            }
        }
        return found;
    }

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    /// <summary>The types, methods and fields that a method body's IL names by token.</summary>
    private static IEnumerable<MemberInfo> MembersNamedBy(MethodBase method, byte[] il)
    {
        Type[]? typeArguments = method.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : null;
        Type[]? methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : null;
        int position = 0;
        while (position < il.Length)
        {
            short value = il[position] == 0xFE ? (short)(0xFE00 | il[position + 1]) : il[position];
            position += il[position] == 0xFE ? 2 : 1;
            OpCode opCode = OpCodesByValue[value];
            switch (opCode.OperandType)
            {
                case OperandType.InlineMethod:
                case OperandType.InlineField:
                case OperandType.InlineType:
                case OperandType.InlineTok:
                    int token = BitConverter.ToInt32(il, position);
                    MemberInfo? member = null;
                    try
                    {
                        member = method.Module.ResolveMember(token, typeArguments, methodArguments);
                    }
                    catch (ArgumentException)
                    {
                        // A token into another module that reflection cannot resolve here names no engine type.
                    }
                    if (member is not null) yield return member;
                    position += 4;
                    break;
                case OperandType.InlineSwitch:
                    position += 4 + 4 * BitConverter.ToInt32(il, position);
                    break;
                case OperandType.InlineNone:
                    break;
                case OperandType.ShortInlineBrTarget:
                case OperandType.ShortInlineI:
                case OperandType.ShortInlineVar:
                    position += 1;
                    break;
                case OperandType.InlineVar:
                    position += 2;
                    break;
                case OperandType.InlineI8:
                case OperandType.InlineR:
                    position += 8;
                    break;
                default:
                    position += 4;
                    break;
            }
        }
    }
}
