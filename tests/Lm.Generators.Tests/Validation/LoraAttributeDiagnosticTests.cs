using Lm.Runtime.Configuration;
using static Lm.Generators.Tests.Validation.DiagnosticTests;

namespace Lm.Generators.Tests.Validation;

/// <summary>
/// <c>[Lora]</c> is checked like the other attributes, at the argument that set the value, under its own property
/// names; its presence is <c>use_peft</c>, and a value it shares with <c>[FineTuneJob]</c> is an error.
/// </summary>
public class LoraAttributeDiagnosticTests
{
    [Theory]
    [InlineData("""[FineTuneJob("j", Model = "tiny-llama")][Lora([|R = 0|])] partial class C { }""", "R (lora_r) must be positive, got 0")]
    [InlineData("""[FineTuneJob("j", Model = "tiny-llama")][Lora(R = 8, [|Alpha = -16|])] partial class C { }""", "Alpha (lora_alpha) must be positive, got -16")]
    public void Non_positive_rank_or_alpha_is_LM1001_at_the_Lora_argument(string markup, string message) =>
        Assert.Equal(message, AssertSingle(markup, "LM1001").GetMessage());

    [Theory]
    [InlineData("""[FineTuneJob("j", Model = "tiny-llama")][Lora([|Dropout = 1|])] partial class C { }""", "Dropout (lora_dropout) must be in [0, 1), got 1")]
    [InlineData("""[FineTuneJob("j", Model = "tiny-llama")][Lora(R = 4, [|Dropout = -0.5|])] partial class C { }""", "Dropout (lora_dropout) must be in [0, 1), got -0.5")]
    public void Dropout_outside_zero_to_one_is_LM1002_at_the_Lora_argument(string markup, string message) =>
        Assert.Equal(message, AssertSingle(markup, "LM1002").GetMessage());

    [Fact]
    public void Target_that_is_no_linear_layer_of_the_architecture_is_LM1030_at_the_Lora_argument()
    {
        var diagnostic = AssertSingle("""[FineTuneJob("j", Model = "tiny-llama")][Lora(R = 8, [|TargetModules = "q_proj,c_attn"|])] partial class C { }""", "LM1030");
        Assert.StartsWith("LoRA target module 'c_attn' is not a linear layer of a llama model; use 'all-linear' or names among: q_proj, k_proj", diagnostic.GetMessage());
    }

    [Fact]
    public void Target_is_checked_against_the_model_of_the_item() =>
        AssertSingle("""[FineTuneJob("j")][Lora([|TargetModules = "q_proj"|])] partial class C { }""", "LM1030",
            new TestItem("j", ("Model", "tiny-gpt2")));

    [Theory]
    [InlineData("""[FineTuneJob("j", Model = "tiny-llama")][Lora] partial class C { }""")]
    [InlineData("""[FineTuneJob("j", Model = "tiny-llama")][Lora(R = 8, Alpha = 16, Dropout = 0, TargetModules = "all-linear", UseRslora = true)] partial class C { }""")]
    [InlineData("""[FineTuneJob("j", Model = "gpt2", UsePeft = true)][Lora(TargetModules = "c_attn, c_proj", ModulesToSave = "lm_head")] partial class C { }""")]
    public void Valid_Lora_attributes_have_no_diagnostics(string source) => AssertNone(source);

    [Theory]
    [InlineData("""[FineTuneJob("j", Model = "tiny-llama", LoraR = 8)][Lora([|R = 8|])] partial class C { }""",
        "R (lora_r) is set by [Lora] and also by [FineTuneJob]'s LoraR on the same class; set it once, in [Lora]")]
    [InlineData("""[FineTuneJob("j", Model = "tiny-llama", LoraTargetModules = "q_proj")][Lora(R = 4, [|TargetModules = "v_proj"|])] partial class C { }""",
        "TargetModules (lora_target_modules) is set by [Lora] and also by [FineTuneJob]'s LoraTargetModules on the same class; set it once, in [Lora]")]
    [InlineData("""[FineTuneJob("j", Model = "tiny-llama", UseRslora = false)][Lora([|UseRslora = true|])] partial class C { }""",
        "UseRslora (use_rslora) is set by [Lora] and also by [FineTuneJob]'s UseRslora on the same class; set it once, in [Lora]")]
    public void Value_set_by_both_Lora_and_FineTuneJob_is_LM1050_at_the_Lora_argument(string markup, string message) =>
        Assert.Equal(message, AssertSingle(markup, "LM1050").GetMessage());

    [Fact]
    public void UsePeft_false_beside_Lora_is_LM1051_at_UsePeft() =>
        AssertSingle("""[FineTuneJob("j", Model = "tiny-llama", [|UsePeft = false|])][Lora(R = 8)] partial class C { }""", "LM1051");

    [Fact]
    public void Lora_without_FineTuneJob_is_LM1015()
    {
        var diagnostic = AssertSingle("""[[|Lora(R = 8)|]] partial class C { }""", "LM1015");
        Assert.Equal("[Lora] on 'C' has no effect without [FineTuneJob(\"<job name>\")] on the same class", diagnostic.GetMessage());
    }

    [Fact]
    public void Lora_value_that_disagrees_with_the_item_is_LM1009_at_the_Lora_argument()
    {
        var diagnostic = AssertSingle("""[FineTuneJob("j", Model = "tiny-llama")][Lora([|R = 8|])] partial class C { }""", "LM1009",
            new TestItem("j", ("LoraR", "16")));
        Assert.Equal("R (lora_r) is '8' in 'C' but '16' in <LanguageModelFineTune Include=\"j\">; set it in one place", diagnostic.GetMessage());
    }

    [Fact]
    public void Item_turning_LoRA_off_beside_Lora_is_LM1009_at_the_attribute() =>
        AssertSingle("""[FineTuneJob("j", Model = "tiny-llama")][[|Lora(R = 8)|]] partial class C { }""", "LM1009",
            new TestItem("j", ("UsePeft", "false")));

    /// <summary>
    /// The attribute's properties are FineTuneJobAttribute's LoRA arguments without their <c>Lora</c> prefix, with the
    /// same types: a field added to the schema (and so to [FineTuneJob]) without a [Lora] property fails here.
    /// </summary>
    [Fact]
    public void Lora_properties_are_the_FineTuneJob_lora_arguments_without_their_prefix()
    {
        var expected = typeof(FineTuneJobAttribute).GetProperties()
            .Where(p => p.Name.StartsWith("Lora", StringComparison.Ordinal) || p.Name == "UseRslora")
            .Select(p => (Name: p.Name.StartsWith("Lora", StringComparison.Ordinal) ? p.Name["Lora".Length..] : p.Name, p.PropertyType))
            .OrderBy(p => p.Name, StringComparer.Ordinal)
            .ToArray();
        var actual = typeof(LoraAttribute).GetProperties()
            .Where(p => p.DeclaringType == typeof(LoraAttribute))
            .Select(p => (p.Name, p.PropertyType))
            .OrderBy(p => p.Name, StringComparer.Ordinal)
            .ToArray();
        Assert.Equal(["Alpha", "Dropout", "ModulesToSave", "R", "TargetModules", "UseRslora"], actual.Select(p => p.Name));
        Assert.Equal(expected, actual);
    }
}
