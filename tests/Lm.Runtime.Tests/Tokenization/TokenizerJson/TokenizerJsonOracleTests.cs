using System.Text.Json;
using System.Text.Json.Nodes;
using Lm.Runtime.Tokenization;

namespace Lm.Runtime.Tests.Tokenization.TokenizerJson;

/// <summary>
/// lm-tune's tokenizer.json pipeline against Hugging Face's own Rust <c>tokenizers</c> (0.22, through
/// Tokenizers.DotNet): the same ids with special tokens added, and the same text back with special tokens skipped,
/// for every variant and every tricky line.
/// </summary>
public sealed class TokenizerJsonOracleTests
{
    public static TheoryData<string> Variants() => new(TokenizerJsonVariants.Names());

    [Theory]
    [MemberData(nameof(Variants))]
    public void Ids_and_decoded_text_equal_the_tokenizers_library(string variant)
    {
        using var folder = TokenizerTestFiles.NewFolder();
        folder.Write("tokenizer.json", TokenizerJsonVariants.Build(variant).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        LmTokenizer ours = LmTokenizer.FromPretrained(folder.Path);
        using var oracle = new Tokenizers.DotNet.Tokenizer(folder.File("tokenizer.json"));

        List<string> failures = Differences(ours, oracle, TokenizerJsonVariants.TrickyLines);
        Assert.True(failures.Count == 0, $"{variant}: {failures.Count} of {TokenizerJsonVariants.TrickyLines.Length} lines differ:\n" + string.Join("\n", failures));
    }

    /// <summary>The lines whose ids (special tokens added) or decoded text (special tokens skipped) differ from the oracle's.</summary>
    internal static List<string> Differences(LmTokenizer ours, Tokenizers.DotNet.Tokenizer oracle, IEnumerable<string> lines)
    {
        var failures = new List<string>();
        foreach (string line in lines)
        {
            int[] expected = oracle.Encode(line).Select(id => (int)id).ToArray();
            int[] actual = ours.Encode(line);
            if (!expected.SequenceEqual(actual))
            {
                failures.Add($"encode {JsonSerializer.Serialize(line)}: expected [{string.Join(",", expected)}] got [{string.Join(",", actual)}]");
                continue;
            }

            string expectedText = oracle.Decode(expected.Select(id => (uint)id).ToArray());
            string actualText = ours.Decode(actual, skipSpecialTokens: true);
            if (expectedText != actualText)
            {
                failures.Add($"decode {JsonSerializer.Serialize(line)}: expected {JsonSerializer.Serialize(expectedText)} got {JsonSerializer.Serialize(actualText)}");
            }
        }

        return failures;
    }

    [Fact]
    public void Every_variant_runs_merges_on_the_tricky_lines()
    {
        // Guards the oracle test against vacuous vocabularies: most words must come out as multi-character tokens.
        using var folder = TokenizerTestFiles.NewFolder();
        folder.Write("tokenizer.json", TokenizerJsonVariants.Build("llama3").ToJsonString());
        LmTokenizer tokenizer = LmTokenizer.FromPretrained(folder.Path);
        int[] ids = tokenizer.Encode("The quick brown fox jumps over the lazy dog.", addSpecialTokens: false);
        Assert.True(ids.Length <= 12, $"{ids.Length} tokens: [{string.Join(",", ids.Select(id => tokenizer.ConvertIdToToken(id)))}]");
        Assert.Equal(TokenizerKind.TokenizerJson, tokenizer.Kind);
    }

    [Fact]
    public void Gpt2_shaped_file_takes_the_fast_path()
    {
        using var folder = TokenizerTestFiles.NewFolder();
        folder.Write("tokenizer.json", TokenizerJsonVariants.Build("gpt2").ToJsonString());
        Assert.Equal(TokenizerKind.ByteLevelBpe, LmTokenizer.FromPretrained(folder.Path).Kind);
    }

    [Theory]
    [InlineData("llama3")]
    [InlineData("qwen2")]
    [InlineData("llama2")]
    [InlineData("mistral-metaspace")]
    [InlineData("unigram-byte-fallback")]
    [InlineData("bert-general")]
    public void Wikitext_sample_lines_give_the_tokenizers_library_ids(string variant)
    {
        using var folder = TokenizerTestFiles.NewFolder();
        folder.Write("tokenizer.json", TokenizerJsonVariants.Build(variant).ToJsonString());
        LmTokenizer ours = LmTokenizer.FromPretrained(folder.Path);
        using var oracle = new Tokenizers.DotNet.Tokenizer(folder.File("tokenizer.json"));
        int lines = 0;
        foreach (string line in TokenizerTestFiles.CorpusLines("wikitext-2-raw/sample/train.txt"))
        {
            int[] expected = oracle.Encode(line).Select(id => (int)id).ToArray();
            Assert.True(expected.SequenceEqual(ours.Encode(line)), $"{variant}: line {lines + 1} {JsonSerializer.Serialize(line)}");
            lines++;
        }

        Assert.Equal(1018, lines);
    }
}
