using System.Globalization;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Lm.Runtime.Training;

/// <summary>
/// HF's <c>TensorBoardCallback</c>: event files under <c>logging_dir</c>, the arguments as text, and every log as
/// scalars at the global step with HF's tags (<c>train/loss</c>, <c>train/learning_rate</c>, <c>eval/loss</c>, ...).
/// </summary>
public sealed class TensorBoardLogger
{
    private readonly SummaryWriter _writer;

    public TensorBoardLogger(string loggingDir, string argumentsJson)
    {
        Directory.CreateDirectory(loggingDir);
        LoggingDir = loggingDir;
        _writer = utils.tensorboard.SummaryWriter(loggingDir, "", false);
        _writer.add_text("args", argumentsJson, 0);
    }

    public string LoggingDir { get; }

    /// <summary>HF's default <c>logging_dir</c>: <c>output_dir/runs/MonDD_HH-MM-SS_HOST</c>.</summary>
    public static string DefaultLoggingDir(string outputDir, DateTime now) =>
        Path.Combine(outputDir, "runs",
            now.ToString("MMMdd_HH-mm-ss", CultureInfo.InvariantCulture) + "_" + Environment.MachineName);

    /// <summary>Writes one log entry's values as scalars.</summary>
    public void Log(LogEntry entry)
    {
        foreach (var (key, value) in entry.Values)
            _writer.add_scalar(Tag(key), (float)value, entry.Step);
    }

    /// <summary>HF's <c>rewrite_logs</c>: <c>eval_x</c> → <c>eval/x</c>, <c>test_x</c> → <c>test/x</c>, else <c>train/x</c>.</summary>
    public static string Tag(string key) =>
        key.StartsWith("eval_", StringComparison.Ordinal) ? "eval/" + key[5..]
        : key.StartsWith("test_", StringComparison.Ordinal) ? "test/" + key[5..]
        : "train/" + key;
}
