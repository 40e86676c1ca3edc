namespace Lm.Tool.Tests;

/// <summary>
/// Model folders made once per test run with <c>lm-tune init</c> (the real executable), shared read-only by the tests,
/// and the flags that keep a training run to a few seconds.
/// </summary>
internal static class TinyModels
{
    private static readonly Lazy<string> Gpt2Folder = new(() => Init("tiny-gpt2"));
    private static readonly Lazy<string> RobertaFolder = new(() => Init("tiny-roberta"));

    public static string Gpt2 => Gpt2Folder.Value;

    public static string Roberta => RobertaFolder.Value;

    public static string TrainFile => Path.Combine(LmTuneProcess.RepoRoot, "data", "wikitext-2-raw", "sample", "train.txt");

    public static string ValidationFile => Path.Combine(LmTuneProcess.RepoRoot, "data", "wikitext-2-raw", "sample", "validation.txt");

    /// <summary>A few optimizer steps on short blocks: seconds, not minutes.</summary>
    public static string[] FastTraining(string outputDir) =>
    [
        "--train-file", TrainFile, "--validation-file", ValidationFile, "--output-dir", outputDir,
        "--max-steps", "4", "--block-size", "32", "--per-device-train-batch-size", "2", "--per-device-eval-batch-size", "4",
        "--max-train-samples", "16", "--max-eval-samples", "8", "--report-to", "none", "--save-strategy", "no",
    ];

    private static string Init(string preset)
    {
        string folder = Path.Combine(Directory.CreateTempSubdirectory("lm-tool-models-").FullName, preset);
        var result = LmTuneProcess.Run("init", preset, "--output-dir", folder);
        if (result.ExitCode != 0) throw new InvalidOperationException($"lm-tune init {preset} failed: {result}");
        return folder;
    }
}
