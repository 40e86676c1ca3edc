using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using Lm.Runtime.Errors;
using Lm.Tasks.Errors;

namespace Lm.Tasks.Tests.Errors;

public class TaskErrorCodesTests
{
    private static Dictionary<string, string> Constants(Type type) =>
        type.GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(string))
            .ToDictionary(f => f.Name, f => (string)f.GetRawConstantValue()!);

    [Fact]
    public void Task_codes_equal_the_runtime_LM2xxx_table()
    {
        var runtime = Constants(typeof(ErrorCodes)).Where(c => c.Value.StartsWith("LM2", StringComparison.Ordinal)).ToDictionary();
        var tasks = Constants(typeof(TaskErrorCodes));
        Assert.Equal(runtime.OrderBy(c => c.Key), tasks.OrderBy(c => c.Key));
    }

    [Fact]
    public void Every_task_code_is_documented()
    {
        string errors = File.ReadAllText(Path.Combine(RepoRoot.Path, "docs", "errors.md"));
        foreach (string code in Constants(typeof(TaskErrorCodes)).Values)
            Assert.Contains($"| {code} |", errors);
    }

    [Fact]
    public void Task_assembly_references_neither_the_engine_nor_TorchSharp()
    {
        using var pe = new PEReader(File.OpenRead(typeof(TaskErrorCodes).Assembly.Location));
        var metadata = pe.GetMetadataReader();
        var references = metadata.AssemblyReferences.Select(h => metadata.GetString(metadata.GetAssemblyReference(h).Name)).ToList();
        Assert.Contains("Microsoft.Build.Framework", references);
        Assert.DoesNotContain(references, r => r.StartsWith("Lm.Runtime", StringComparison.Ordinal) || r.StartsWith("TorchSharp", StringComparison.Ordinal));
    }
}
