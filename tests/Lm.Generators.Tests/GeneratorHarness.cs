using System.Collections.Immutable;
using System.Reflection;
using System.Text;
using Lm.Generators;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;

namespace Lm.Generators.Tests;

/// <summary>A <c>&lt;LanguageModelFineTune&gt;</c> item as MSBuild hands it to the compiler: identity plus metadata.</summary>
public sealed record TestItem(string Identity, params (string Name, string Value)[] Metadata);

/// <summary>The generator run on in-memory sources, the way the compiler runs it in a project referencing Lm.Runtime.</summary>
public static class GeneratorHarness
{
    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(() =>
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
            .Split(Path.PathSeparator)
            .Where(path => path.EndsWith(".dll", StringComparison.Ordinal))
            .Select(path => (MetadataReference)MetadataReference.CreateFromFile(path))
            .ToImmutableArray());

    public static CSharpCompilation Compile(params string[] sources) =>
        CSharpCompilation.Create(
            "UserApp",
            sources.Select((source, i) => CSharpSyntaxTree.ParseText(source, ParseOptions, path: $"/src/File{i}.cs", encoding: Encoding.UTF8)),
            References.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    public static GeneratorDriver CreateDriver(IEnumerable<TestItem> items, bool trackSteps = false)
    {
        var itemList = items.ToList();
        var texts = itemList.Select(item => (AdditionalText)new ItemText("/src/" + item.Identity)).ToImmutableArray();
        return CSharpGeneratorDriver.Create(
            new[] { new FineTuneJobGenerator().AsSourceGenerator() },
            texts,
            ParseOptions,
            new ItemOptionsProvider(itemList),
            new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: trackSteps));
    }

    /// <summary>Runs the generator; returns what it produced and the compilation with its output added.</summary>
    public static GeneratorRun Run(string source, params TestItem[] items) => Run(new[] { source }, items);

    public static GeneratorRun Run(string[] sources, params TestItem[] items)
    {
        CSharpCompilation compilation = Compile(sources);
        GeneratorDriver driver = CreateDriver(items).RunGeneratorsAndUpdateCompilation(compilation, out Compilation output, out _);
        return new GeneratorRun(driver.GetRunResult(), output);
    }

    /// <summary>Loads the compiled output (generator included) into this process, failing on any compile error.</summary>
    public static Assembly Load(Compilation output)
    {
        using var stream = new MemoryStream();
        var emit = output.Emit(stream);
        Assert.True(emit.Success, string.Join("\n", emit.Diagnostics));
        return Assembly.Load(stream.ToArray());
    }

    private sealed class ItemText(string path) : AdditionalText
    {
        public override string Path { get; } = path;

        // An item is a name, not a file: the compiler never reads its text.
        public override SourceText? GetText(CancellationToken cancellationToken = default) => null;
    }

    private sealed class ItemOptionsProvider(IReadOnlyList<TestItem> items) : AnalyzerConfigOptionsProvider
    {
        public override AnalyzerConfigOptions GlobalOptions { get; } = new Options(ImmutableDictionary<string, string>.Empty);

        public override AnalyzerConfigOptions GetOptions(SyntaxTree tree) => GlobalOptions;

        public override AnalyzerConfigOptions GetOptions(AdditionalText textFile)
        {
            TestItem? item = items.FirstOrDefault(i => "/src/" + i.Identity == textFile.Path);
            if (item is null) return GlobalOptions;
            // The keys MSBuild's GenerateMSBuildEditorConfig writes for CompilerVisibleItemMetadata.
            var options = ImmutableDictionary.CreateBuilder<string, string>();
            options["build_metadata.LanguageModelFineTune.Identity"] = item.Identity;
            foreach (var (name, value) in item.Metadata) options["build_metadata.LanguageModelFineTune." + name] = value;
            return new Options(options.ToImmutable());
        }

        private sealed class Options(ImmutableDictionary<string, string> values) : AnalyzerConfigOptions
        {
            public override bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? value) =>
                values.TryGetValue(key, out value);
        }
    }
}

/// <summary>One generator run: its result and the compilation including generated sources.</summary>
public sealed record GeneratorRun(GeneratorDriverRunResult Result, Compilation Output)
{
    public ImmutableArray<Diagnostic> GeneratorDiagnostics => Result.Diagnostics;

    public string SourceOf(string hintName) =>
        Result.Results.Single().GeneratedSources.Single(s => s.HintName == hintName).SourceText.ToString();

    public IReadOnlyList<Diagnostic> CompileErrors =>
        Output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
}
