using Lm.Fuzz.Targets;
using Lm.Runtime.Errors;
using Lm.Runtime.Tests.Data;

namespace Lm.Runtime.Tests.Fuzz;

/// <summary>
/// Replays fuzz/corpus (seeds and what afl kept) and fuzz/regressions (inputs that once crashed) through the same
/// targets the fuzzer runs: every file must end in success or an <see cref="LmException"/> with a specific code.
/// No fuzzer runs here; fuzz/run.sh does that outside CI.
/// </summary>
public class CorpusReplayTests
{
    /// <summary>Each target's seed corpus has at least this many files, so an emptied folder fails.</summary>
    private const int MinimumSeeds = 3;

    private static string FuzzFolder(string name) => Path.Combine(TestData.RepositoryRoot, "fuzz", name);

    public static TheoryData<string> Targets() => new(FuzzTargets.All.Keys.Order(StringComparer.Ordinal));

    [Fact]
    public void Every_target_has_a_seed_corpus_and_every_corpus_a_target()
    {
        string[] folders = Directory.GetDirectories(FuzzFolder("corpus")).Select(Path.GetFileName).OfType<string>()
            .Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(FuzzTargets.All.Keys.Order(StringComparer.Ordinal), folders);
        string regressions = FuzzFolder("regressions");
        if (Directory.Exists(regressions))
        {
            Assert.All(Directory.GetDirectories(regressions), folder => Assert.Contains(Path.GetFileName(folder), FuzzTargets.All.Keys));
        }
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void Corpus_and_regression_inputs_end_in_success_or_an_lm_error(string target)
    {
        string[] seeds = Directory.GetFiles(Path.Combine(FuzzFolder("corpus"), target));
        Assert.True(seeds.Length >= MinimumSeeds, $"fuzz/corpus/{target} has {seeds.Length} files; expected at least {MinimumSeeds}");
        string regressionFolder = Path.Combine(FuzzFolder("regressions"), target);
        string[] regressions = Directory.Exists(regressionFolder) ? Directory.GetFiles(regressionFolder) : [];

        using var scratch = new ScratchFolder();
        var outcomes = new List<string>();
        var failures = new List<string>();
        foreach (string file in seeds.Concat(regressions).Order(StringComparer.Ordinal))
        {
            try
            {
                FuzzTargets.All[target](File.ReadAllBytes(file), scratch.Path);
                outcomes.Add("ok");
            }
            catch (LmException e) when (e.Code != ErrorCodes.UnexpectedFailure)
            {
                outcomes.Add(e.Code);
            }
            catch (Exception e)
            {
                failures.Add($"{Path.GetFileName(file)}: {e.GetType().Name}: {e.Message}");
            }
        }

        Assert.Empty(failures);
        Assert.Equal(seeds.Length + regressions.Length, outcomes.Count);
        // Each corpus starts from valid files (and near-valid ones): a target that accepts none is broken or mis-seeded.
        Assert.Contains("ok", outcomes);
    }

    [Fact]
    public void Multi_file_inputs_split_at_the_separator_and_missing_parts_are_empty()
    {
        byte[] input = "a%%lmfuzz%%bc%%lmfuzz%%d%%lmfuzz%%e"u8.ToArray();
        byte[][] parts = FuzzTargets.Split(input, 3);
        Assert.Equal(["a", "bc", "d%%lmfuzz%%e"], parts.Select(p => System.Text.Encoding.ASCII.GetString(p)));
        Assert.Equal(["x", "", ""], FuzzTargets.Split("x"u8.ToArray(), 3).Select(p => System.Text.Encoding.ASCII.GetString(p)));
    }
}
