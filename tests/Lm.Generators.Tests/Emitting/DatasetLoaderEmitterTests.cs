using System.Reflection;
using Lm.Runtime.Data;

namespace Lm.Generators.Tests.Emitting;

/// <summary>The generated loaders open the declared files with the declared format, column and line handling.</summary>
public class DatasetLoaderEmitterTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "lm-loaders-" + Guid.NewGuid().ToString("N"));

    public DatasetLoaderEmitterTests()
    {
        Directory.CreateDirectory(Path.Combine(_folder, "data"));
        File.WriteAllText(Path.Combine(_folder, "data", "train.txt"), "abcdef\nghij\n");
        File.WriteAllText(Path.Combine(_folder, "data", "validation.txt"), "klmnopqr\n");
        File.WriteAllText(Path.Combine(_folder, "data", "train.csv"), "id,body\n1,first row\n2,second row\n");
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void Text_file_loader_reads_lines_keeping_their_line_breaks()
    {
        Type job = Compile("""[FineTuneJob("j", Model = "tiny-gpt2")][TextDataset(TrainFile = "data/train.txt", ValidationFile = "data/validation.txt")]""");
        var train = (TextSource)Invoke(job, "OpenTrainFile", _folder);
        Assert.Equal(new[] { "abcdef\n", "ghij\n" }, train.ReadRows());
        var validation = (TextSource)Invoke(job, "OpenValidationFile", _folder);
        Assert.Equal(new[] { "klmnopqr\n" }, validation.ReadRows());
    }

    [Fact]
    public void Masked_lm_text_loader_drops_line_breaks_as_run_mlm_does()
    {
        Type job = Compile("""[FineTuneJob("j", Model = "roberta-base")][TextDataset(TrainFile = "data/train.txt")]""");
        Assert.Equal(new[] { "abcdef", "ghij" }, ((TextSource)Invoke(job, "OpenTrainFile", _folder)).ReadRows());
    }

    [Fact]
    public void Loaders_of_a_job_with_an_unknown_model_take_the_objective()
    {
        Type job = Compile("""[FineTuneJob("j", Model = "my/model")][TextDataset(TrainFile = "data/train.txt")]""");
        Assert.Equal(new[] { "abcdef\n", "ghij\n" }, ((TextSource)Invoke(job, "OpenTrainFile", DataObjective.Clm, _folder)).ReadRows());
        Assert.Equal(new[] { "abcdef", "ghij" }, ((TextSource)Invoke(job, "OpenTrainFile", DataObjective.Mlm, _folder)).ReadRows());
        Assert.Contains(job.GetMethod("OpenSplits")!.GetParameters(), p => p.ParameterType == typeof(DataObjective));
    }

    [Fact]
    public void Csv_loader_reads_the_declared_column()
    {
        Type job = Compile("""[FineTuneJob("j", Model = "roberta-base")][TextDataset(TrainFile = "data/train.csv", TextColumn = "body")]""");
        Assert.Equal(new[] { "first row", "second row" }, ((TextSource)Invoke(job, "OpenTrainFile", _folder)).ReadRows());
        Assert.Null(job.GetMethod("OpenValidationFile"));
    }

    [Fact]
    public void Prepare_data_groups_blocks_for_the_objective_of_a_known_model()
    {
        Type job = Compile("""
            [FineTuneJob("j", Model = "tiny-gpt2")]
            [TextDataset(TrainFile = "data/train.txt", ValidationFile = "data/validation.txt", BlockSize = 4)]
            """);
        var prepare = job.GetMethod("PrepareData")!;
        Assert.DoesNotContain(prepare.GetParameters(), p => p.ParameterType == typeof(DataObjective));
        using var data = (PreparedData)prepare.Invoke(null, new object?[] { new CharEncoder(), _folder, null, Path.Combine(_folder, "cache"), null })!;
        // 12 characters of train (line breaks kept) make 3 blocks of 4; 9 of validation make 2 (remainder dropped).
        Assert.Equal(3, data.Train!.Count);
        Assert.Equal(2, data.Validation!.Count);
        Assert.Equal("abcd".Select(CharEncoder.Id), data.Train.GetIds(0));
    }

    [Fact]
    public void Prepare_data_asks_for_the_objective_when_the_model_is_unknown()
    {
        Type job = Compile("""[FineTuneJob("j", Model = "my/model")][TextDataset(TrainFile = "data/train.txt")]""");
        Assert.Contains(job.GetMethod("PrepareData")!.GetParameters(), p => p.ParameterType == typeof(DataObjective));
    }

    [Fact]
    public void Job_without_data_gets_no_loaders()
    {
        Type job = Compile("""[FineTuneJob("j", Model = "tiny-gpt2")]""");
        Assert.Null(job.GetMethod("OpenSplits"));
        Assert.Null(job.GetMethod("PrepareData"));
    }

    private static Type Compile(string attributes)
    {
        var run = GeneratorHarness.Run("using Lm.Runtime.Configuration;\n" + attributes + "\npartial class Job { }");
        Assert.Empty(run.GeneratorDiagnostics);
        return GeneratorHarness.Load(run.Output).GetType("Job")!;
    }

    private static object Invoke(Type type, string method, params object?[] arguments) =>
        type.GetMethod(method, BindingFlags.Public | BindingFlags.Static)!.Invoke(null, arguments)!;

    /// <summary>One token per character (id = 10 + code), so block contents are predictable by hand.</summary>
    private sealed class CharEncoder : ITextEncoder
    {
        public static int Id(char c) => 10 + c % 990;
        public void EncodeContent(ReadOnlySpan<char> text, List<int> ids) { foreach (char c in text) ids.Add(Id(c)); }
        public IReadOnlyList<int> PrefixIds => [];
        public IReadOnlyList<int> SuffixIds => [];
        public int VocabSize => 1000;
        public int ModelMaxLength => 1024;
        public int? PadTokenId => 0;
        public int? MaskTokenId => 1;
        public IReadOnlyCollection<int> SpecialTokenIds => [0, 1];
        public string IdToToken(int id) => ((char)(id - 10)).ToString();
        public string Fingerprint => "generator-tests-char";
    }
}
