using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Lm.Generators.Tests.Validation;

/// <summary>
/// Every diagnostic fires on a minimal example and points at the right span. Sources mark the expected span with
/// <c>[|...|]</c>; a diagnostic about item metadata has no source location.
/// </summary>
public class DiagnosticTests
{
    private const string Usings = "using Lm.Runtime.Configuration;\n";

    [Theory]
    [InlineData("""[FineTuneJob("j")][Training([|LearningRate = -1|])] partial class C { }""")]
    [InlineData("""[FineTuneJob("j")][Training([|LearningRate = 0|])] partial class C { }""")]
    [InlineData("""[FineTuneJob("j")][Training([|PerDeviceTrainBatchSize = 0|])] partial class C { }""")]
    [InlineData("""[FineTuneJob("j")][Training(LearningRate = 1e-4, [|NumTrainEpochs = 0|])] partial class C { }""")]
    [InlineData("""[FineTuneJob("j")][TextDataset([|BlockSize = -128|])] partial class C { }""")]
    public void Non_positive_values_are_LM1001_on_their_argument(string markup) =>
        AssertSingle(markup, "LM1001");

    [Theory]
    [InlineData("""[FineTuneJob("j")][TextDataset([|MlmProbability = 1.5|])] partial class C { }""")]
    [InlineData("""[FineTuneJob("j")][TextDataset([|MlmProbability = 0|])] partial class C { }""")]
    [InlineData("""[FineTuneJob("j")][Training([|AdamBeta1 = 1|])] partial class C { }""")]
    [InlineData("""[FineTuneJob("j")][Training([|MaxSteps = 0|])] partial class C { }""")]
    [InlineData("""[FineTuneJob("j")][Training([|WeightDecay = double.NaN|])] partial class C { }""")]
    [InlineData("""[FineTuneJob("j")][Training([|LoggingSteps = 2.5|])] partial class C { }""")]
    public void Values_outside_their_range_are_LM1002(string markup) =>
        AssertSingle(markup, "LM1002");

    [Theory]
    [InlineData("""[FineTuneJob("j")][Training([|LrSchedulerType = "cosine_annealing"|])] partial class C { }""")]
    [InlineData("""[FineTuneJob("j")][Training([|EvalStrategy = "sometimes"|])] partial class C { }""")]
    [InlineData("""[FineTuneJob("j", [|Device = "gpu"|])] partial class C { }""")]
    [InlineData("""[FineTuneJob("j", [|Objective = "seq2seq"|])] partial class C { }""")]
    public void Unknown_scheduler_strategy_or_choice_is_LM1003(string markup) =>
        AssertSingle(markup, "LM1003");

    [Fact]
    public void Unknown_choice_suggests_the_nearest()
    {
        var diagnostic = AssertSingle("""[FineTuneJob("j")][Training([|SaveStrategy = "epochs"|])] partial class C { }""", "LM1003");
        Assert.Equal("SaveStrategy (save_strategy) must be one of no, steps, epoch; got 'epochs'; did you mean 'epoch'?", diagnostic.GetMessage());
    }

    [Fact]
    public void Device_ordinal_is_a_valid_choice() =>
        AssertNone("""[FineTuneJob("j", Model = "tiny-gpt2", Device = "cuda:1")] partial class C { }""");

    [Fact]
    public void Evaluation_without_any_validation_data_is_LM1004()
    {
        var diagnostic = AssertSingle("""
            [FineTuneJob("j")]
            [TextDataset(TrainFile = "t.txt", ValidationSplitPercentage = 0)]
            [Training([|EvalStrategy = "epoch"|])]
            partial class C { }
            """, "LM1004");
        Assert.Contains("EvalStrategy (eval_strategy) 'epoch'", diagnostic.GetMessage());
    }

    [Fact]
    public void Evaluation_on_the_default_validation_split_is_fine() =>
        AssertNone("""[FineTuneJob("j")][TextDataset(TrainFile = "t.txt")][Training(EvalStrategy = "steps")] partial class C { }""");

    [Theory]
    [InlineData("""[FineTuneJob("j", Model = "distilgpt2", [|Objective = "mlm"|])] partial class C { }""")]
    [InlineData("""[FineTuneJob("j", Model = "roberta-base", [|Objective = "clm"|])] partial class C { }""")]
    [InlineData("""[FineTuneJob("j", ModelType = "bert", [|Objective = "clm"|])] partial class C { }""")]
    public void Objective_that_does_not_fit_a_known_model_is_LM1005(string markup) =>
        AssertSingle(markup, "LM1005");

    [Fact]
    public void Objective_from_the_class_is_checked_against_the_model_of_the_item()
    {
        var diagnostic = AssertSingle("""[FineTuneJob("j", [|Objective = "mlm"|])] partial class C { }""", "LM1005",
            new TestItem("j", ("Model", "gpt2")));
        Assert.Equal("Objective 'mlm' does not fit model 'gpt2': gpt2 models are trained with 'clm'", diagnostic.GetMessage());
    }

    [Theory]
    [InlineData("""[FineTuneJob("j", Model = "tiny-llama", UsePeft = true, [|LoraTargetModules = "q_proj,c_attn"|])] partial class C { }""", "c_attn", "a llama model")]
    [InlineData("""[FineTuneJob("j", Model = "distilgpt2", UsePeft = true, [|LoraTargetModules = "q_proj"|])] partial class C { }""", "q_proj", "a gpt2 model")]
    [InlineData("""[FineTuneJob("j", Model = "my/own-model", UsePeft = true, [|LoraTargetModules = "attention"|])] partial class C { }""", "attention", "any architecture lm-tune builds")]
    public void Lora_target_that_is_no_linear_layer_of_the_model_is_LM1030(string markup, string name, string architecture)
    {
        var diagnostic = AssertSingle(markup, "LM1030");
        Assert.StartsWith($"LoRA target module '{name}' is not a linear layer of {architecture}; use 'all-linear' or names among: ", diagnostic.GetMessage());
    }

    [Theory]
    [InlineData("""[FineTuneJob("j", Model = "tiny-llama", UsePeft = true, LoraTargetModules = "all-linear", LoraR = 8)] partial class C { }""")]
    [InlineData("""[FineTuneJob("j", Model = "smollm2-135m", UsePeft = true, LoraTargetModules = "q_proj, v_proj,model.layers.0.mlp.down_proj")] partial class C { }""")]
    [InlineData("""[FineTuneJob("j", Model = "gpt2", UsePeft = true, LoraTargetModules = "c_attn,c_proj,c_fc")] partial class C { }""")]
    public void Lora_targets_of_the_architecture_are_fine(string source) => AssertNone(source);

    [Fact]
    public void Lora_rank_zero_is_LM1001() =>
        AssertSingle("""[FineTuneJob("j", Model = "tiny-llama", UsePeft = true, [|LoraR = 0|])] partial class C { }""", "LM1001");

    [Fact]
    public void Lora_target_from_item_metadata_is_checked_against_the_item_model() =>
        AssertSingle("", "LM1030", new TestItem("j", ("Model", "tiny-gpt2"), ("UsePeft", "true"), ("LoraTargetModules", "q_proj")));

    [Fact]
    public void Unknown_model_is_not_checked_against_the_objective() =>
        AssertNone("""[FineTuneJob("j", Model = "my/own-model", Objective = "mlm")] partial class C { }""");

    [Theory]
    [InlineData("""[FineTuneJob("j")] class [|C|] { }""")]
    [InlineData("""[FineTuneJob("j")] partial class [|C|]<T> { }""")]
    [InlineData("""class Outer { [FineTuneJob("j")] partial class [|C|] { } }""")]
    public void Class_that_cannot_take_generated_members_is_LM1006(string markup) =>
        AssertSingle(markup, "LM1006");

    [Fact]
    public void Item_whose_config_names_no_class_is_LM1007()
    {
        var diagnostic = AssertSingle("""[FineTuneJob("j")] partial class C { }""", "LM1007",
            new TestItem("j", ("Config", "C")), new TestItem("other", ("Config", "Missing")));
        Assert.Equal("<LanguageModelFineTune Include=\"other\"> has Config=\"Missing\", but no class with [FineTuneJob] has that name", diagnostic.GetMessage());
    }

    [Fact]
    public void Class_without_item_is_an_LM1008_warning_when_the_project_has_items()
    {
        var diagnostic = AssertSingle("""[FineTuneJob([|"lonely"|])] partial class C { }""", "LM1008", new TestItem("other", ("Model", "gpt2")));
        Assert.Equal(DiagnosticSeverity.Warning, diagnostic.Severity);
    }

    [Fact]
    public void Class_without_item_is_fine_in_a_project_without_items() =>
        AssertNone("""[FineTuneJob("lonely")] partial class C { }""");

    [Fact]
    public void Item_value_that_conflicts_with_the_class_is_LM1009()
    {
        var diagnostic = AssertSingle("""[FineTuneJob("j")][TextDataset([|TrainFile = "a.txt"|])] partial class C { }""", "LM1009",
            new TestItem("j", ("TrainFile", "b.txt")));
        Assert.Equal("TrainFile (train_file) is 'a.txt' in 'C' but 'b.txt' in <LanguageModelFineTune Include=\"j\">; set it in one place", diagnostic.GetMessage());
    }

    [Fact]
    public void Output_dir_in_the_class_of_a_job_an_item_trains_is_LM1018_not_a_conflict_with_the_items_default()
    {
        var diagnostic = AssertSingle("""[FineTuneJob("j")][Training([|OutputDir = "out/j"|])] partial class C { }""", "LM1018",
            new TestItem("j", ("Model", "gpt2"), ("OutputDir", "obj/lm/j/")));
        Assert.Contains("set OutputDir on the item", diagnostic.GetMessage());
    }

    [Fact]
    public void Output_dir_in_a_class_without_an_item_is_fine() =>
        AssertNone("""[FineTuneJob("j")][Training(OutputDir = "out/j")] partial class C { }""");

    [Fact]
    public void Item_value_equal_to_the_class_value_is_no_conflict() =>
        AssertNone("""[FineTuneJob("j")][TextDataset(TrainFile = "data/a.txt")][Training(LearningRate = 1e-4)] partial class C { }""",
            new TestItem("j", ("TrainFile", "data\\a.txt"), ("LearningRate", "0.0001")));

    [Fact]
    public void Second_class_with_the_same_job_name_is_LM1010() =>
        AssertSingle("""
            [FineTuneJob("dup")] partial class A { }
            [FineTuneJob([|"dup"|])] partial class B { }
            """, "LM1010");

    [Theory]
    [InlineData("""[FineTuneJob([|"bad name/x"|])] partial class C { }""")]
    [InlineData("""[FineTuneJob([|""|])] partial class C { }""")]
    public void Job_name_that_cannot_name_a_folder_is_LM1011(string markup) =>
        AssertSingle(markup, "LM1011");

    [Fact]
    public void Malformed_scheduler_kwargs_are_LM1012() =>
        AssertSingle("""[FineTuneJob("j")][Training([|LrSchedulerKwargs = "power"|])] partial class C { }""", "LM1012");

    [Fact]
    public void Item_metadata_of_the_wrong_type_is_LM1012_naming_the_item()
    {
        var diagnostic = AssertSingle("""[FineTuneJob("j")] partial class C { }""", "LM1012", new TestItem("j", ("LearningRate", "fast")));
        Assert.Equal("<LanguageModelFineTune Include=\"j\"> metadata LearningRate expects a number, got 'fast'", diagnostic.GetMessage());
    }

    [Theory]
    [InlineData("""[FineTuneJob("j")][Training([|LoadBestModelAtEnd = true|])] partial class C { }""")]
    [InlineData("""[FineTuneJob("j")][Training(EvalStrategy = "epoch", [|LoadBestModelAtEnd = true|])] partial class C { }""")]
    [InlineData("""[FineTuneJob("j")][Training([|EarlyStoppingPatience = 3|])] partial class C { }""")]
    [InlineData("""[FineTuneJob("j")][Training(EvalStrategy = "steps", EvalSteps = 200, LoadBestModelAtEnd = true, [|SaveSteps = 500|])] partial class C { }""")]
    public void Arguments_that_need_evaluation_without_it_are_LM1013(string markup) =>
        AssertSingle(markup, "LM1013");

    [Fact]
    public void Item_whose_config_class_configures_another_job_is_LM1014() =>
        AssertSingle("""[FineTuneJob([|"job"|])] partial class C { }""", "LM1014", new TestItem("other", ("Config", "C")));

    [Theory]
    [InlineData("""[[|TextDataset(TrainFile = "t.txt")|]] partial class C { }""")]
    [InlineData("""[[|Training(LearningRate = 1e-4)|]] class C { }""")]
    public void Data_or_training_attribute_without_a_job_is_LM1015(string markup) =>
        AssertSingle(markup, "LM1015");

    [Theory]
    [InlineData("""[FineTuneJob("j")][TextDataset([|TrainFile = "data/train.tsv"|])] partial class C { }""")]
    [InlineData("""[FineTuneJob("j")][TextDataset(TrainFile = "a.txt", [|ValidationFile = "data/validation"|])] partial class C { }""")]
    public void Data_file_of_an_unsupported_type_is_LM1016(string markup) =>
        AssertSingle(markup, "LM1016");

    [Theory]
    [InlineData("""[FineTuneJob("j")][ChatDataset([|TrainFile = "data/chat.txt"|], DatasetFormat = "messages")] partial class C { }""")]
    [InlineData("""[FineTuneJob("j")][ChatDataset(TrainFile = "chat.jsonl", [|ValidationFile = "chat.parquet"|], DatasetFormat = "messages")] partial class C { }""")]
    [InlineData("""[FineTuneJob("j")][TextDataset([|TrainFile = "pairs.csv"|], DatasetFormat = "prompt_completion")] partial class C { }""")]
    public void Chat_rows_from_a_file_that_cannot_hold_them_are_LM1040(string markup) =>
        AssertSingle(markup, "LM1040");

    [Theory]
    [InlineData("""[FineTuneJob("j")][ChatDataset(TrainFile = "a.jsonl", DatasetFormat = "text", [|Packing = true|])] partial class C { }""")]
    [InlineData("""[FineTuneJob("j")][TextDataset(TrainFile = "a.txt", DatasetFormat = "text", [|AssistantOnlyLoss = true|])] partial class C { }""")]
    public void Chat_options_on_text_data_are_LM1041(string markup) =>
        AssertSingle(markup, "LM1041");

    [Fact]
    public void ChatDataset_sets_data_arguments_and_needs_FineTuneJob()
    {
        AssertSingle("""[[|ChatDataset(TrainFile = "chat.jsonl")|]] partial class C { }""", "LM1015");
        var diagnostic = AssertSingle("""[FineTuneJob("j")][ChatDataset(TrainFile = "chat.jsonl", [|PackingStrategy = "best"|])] partial class C { }""", "LM1003");
        Assert.Contains("bfd, wrapped", diagnostic.GetMessage());
    }

    [Fact]
    public void Item_config_simple_name_shared_by_two_classes_is_LM1017()
    {
        var diagnostic = AssertSingle("""
            namespace A { [FineTuneJob("j")] partial class Job { } }
            namespace B { [FineTuneJob("k")] partial class Job { } }
            """, "LM1017", new TestItem("j", ("Config", "Job")), new TestItem("k", ("Config", "B.Job")));
        Assert.Contains("(A.Job, B.Job)", diagnostic.GetMessage());
    }

    [Fact]
    public void Item_values_are_range_checked_even_without_a_class()
    {
        var diagnostic = AssertSingle("", "LM1001", new TestItem("j", ("LearningRate", "-1")));
        Assert.Equal("LearningRate (learning_rate) of <LanguageModelFineTune Include=\"j\"> must be positive, got -1", diagnostic.GetMessage());
    }

    [Fact]
    public void Representative_classes_have_no_diagnostics()
    {
        Assert.Empty(GeneratorHarness.Run(new[] { Samples.WikiGpt2, Samples.NestedRoberta, Samples.ItemConfigured }, Samples.TinyItem,
            new TestItem("wiki-gpt2"), new TestItem("wiki-roberta")).GeneratorDiagnostics);
    }

    /// <summary>Exactly one diagnostic with <paramref name="id"/>, at the marked span (or nowhere when nothing is marked), and no other errors.</summary>
    internal static Diagnostic AssertSingle(string markup, string id, params TestItem[] items)
    {
        var (source, span) = ParseMarkup(Usings + markup);
        var diagnostics = GeneratorHarness.Run(source, items).GeneratorDiagnostics;
        var diagnostic = Assert.Single(diagnostics);
        Assert.Equal(id, diagnostic.Id);
        if (span is TextSpan expected)
        {
            Assert.Equal("/src/File0.cs", diagnostic.Location.GetLineSpan().Path);
            Assert.Equal(source.Substring(expected.Start, expected.Length), source.Substring(diagnostic.Location.SourceSpan.Start, diagnostic.Location.SourceSpan.Length));
            Assert.Equal(expected, diagnostic.Location.SourceSpan);
        }
        else
        {
            Assert.Equal(Location.None, diagnostic.Location);
        }
        return diagnostic;
    }

    internal static void AssertNone(string source, params TestItem[] items) =>
        Assert.Empty(GeneratorHarness.Run(Usings + source, items).GeneratorDiagnostics);

    private static (string Source, TextSpan? Span) ParseMarkup(string markup)
    {
        int start = markup.IndexOf("[|", StringComparison.Ordinal);
        if (start < 0) return (markup, null);
        int end = markup.IndexOf("|]", start, StringComparison.Ordinal) - 2;
        string source = markup.Remove(start, 2).Remove(end, 2);
        return (source, TextSpan.FromBounds(start, end));
    }
}
