using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace Lm.Tasks.Tests.Errors;

public class TaskErrorCodesTests
{
    // The tasks compile the shared table (src/Shared/Errors) themselves; its LM2xxx part is what they report.
    private static IEnumerable<string> TaskCodes() =>
        typeof(Lm.Tasks.Jobs.JobResolver).Assembly.GetType("Lm.Runtime.Errors.ErrorCodes")!
            .GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(string))
            .Select(f => (string)f.GetRawConstantValue()!)
            .Where(code => code.StartsWith("LM2", StringComparison.Ordinal));

    [Fact]
    public void Every_task_code_is_documented()
    {
        string errors = File.ReadAllText(Path.Combine(RepoRoot.Path, "docs", "errors.md"));
        Assert.NotEmpty(TaskCodes());
        foreach (string code in TaskCodes())
            Assert.Contains($"| {code} |", errors);
    }

    [Fact]
    public void Task_assembly_references_neither_the_engine_nor_TorchSharp()
    {
        using var pe = new PEReader(File.OpenRead(typeof(Lm.Tasks.Jobs.JobResolver).Assembly.Location));
        var metadata = pe.GetMetadataReader();
        var references = metadata.AssemblyReferences.Select(h => metadata.GetString(metadata.GetAssemblyReference(h).Name)).ToList();
        Assert.Contains("Microsoft.Build.Framework", references);
        Assert.DoesNotContain(references, r => r.StartsWith("Lm.Runtime", StringComparison.Ordinal) || r.StartsWith("TorchSharp", StringComparison.Ordinal));
    }
}
