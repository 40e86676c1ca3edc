using System.Reflection;
using System.Text.Json.Nodes;
using Lm.Runtime.Jobs;

namespace Lm.Generators.Tests.Validation;

/// <summary>
/// <c>[Distributed]</c> (docs/scale-out.md): checked at compile time, each problem at its argument, and compiled into
/// the class's configuration as the <c>launch</c> object the build reads; the typed job does not change.
/// </summary>
public class DistributedAttributeTests
{
    [Theory]
    [InlineData("""[FineTuneJob("j")][Distributed([|NumProcesses = 0|])] partial class C { }""", "NumProcesses must be at least 1, got 0")]
    [InlineData("""[FineTuneJob("j")][Distributed(NumProcesses = 8, [|NumMachines = -1|])] partial class C { }""", "NumMachines must be at least 1, got -1")]
    [InlineData("""[FineTuneJob("j")][Distributed([|Deepspeed = "zero1"|])] partial class C { }""", "Deepspeed must be zero2 or zero3 (DeepSpeed's ZeRO stage), got 'zero1'")]
    [InlineData("""[FineTuneJob("j")][Distributed([|Launcher = "slurm"|])] partial class C { }""", "Launcher must be train or export, got 'slurm'")]
    public void Values_out_of_range_are_LM1060_on_their_argument(string markup, string message) =>
        Assert.Equal("[Distributed] " + message, DiagnosticTests.AssertSingle(markup, "LM1060").GetMessage());

    [Fact]
    public void Fsdp_with_deepspeed_is_LM1061_on_the_deepspeed_argument() =>
        Assert.Contains("Fsdp and Deepspeed 'zero3'", DiagnosticTests.AssertSingle(
            """[FineTuneJob("j")][Distributed(NumProcesses = 8, Fsdp = true, [|Deepspeed = "zero3"|])] partial class C { }""", "LM1061").GetMessage());

    [Fact]
    public void Valid_settings_have_no_diagnostic_and_without_a_job_the_attribute_is_LM1015()
    {
        DiagnosticTests.AssertNone("""[FineTuneJob("j", Model = "tiny-gpt2")][Distributed(NumProcesses = 8, NumMachines = 2, Deepspeed = "zero2", Launcher = "export")] partial class C { }""");
        DiagnosticTests.AssertSingle("""[[|Distributed(NumProcesses = 8)|]] partial class C { }""", "LM1015");
    }

    [Fact]
    public void Settings_compile_into_the_launch_object_and_leave_the_typed_job_alone()
    {
        var run = GeneratorHarness.Run("""
            using Lm.Runtime.Configuration;
            [FineTuneJob("j", Model = "tiny-gpt2")]
            [Training(MaxSteps = 20)]
            [Distributed(NumProcesses = 8, NumMachines = 1, Fsdp = true, Launcher = "export")]
            partial class C { }
            """);
        Assert.Empty(run.GeneratorDiagnostics);
        Assembly assembly = GeneratorHarness.Load(run.Output);
        var attribute = assembly.GetCustomAttributes<FineTuneJobConfigurationAttribute>().Single();
        var json = JsonNode.Parse(attribute.Json)!.AsObject();
        Assert.Equal("""{"num_processes":8,"num_machines":1,"fsdp":true,"launcher":"export"}""", json["launch"]!.ToJsonString());
        json.Remove("launch");
        var typed = (FineTuneJob)assembly.GetType("C")!.GetMethod("CreateJob")!.Invoke(null, null)!;
        Assert.Equal(FineTuneJob.FromJson(json).ToJson(), typed.ToJson());
        Assert.Equal(20, typed.Training.MaxSteps);
    }
}
