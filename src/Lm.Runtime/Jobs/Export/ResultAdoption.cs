using System.Text.Json.Nodes;
using Lm.Runtime.Checkpoints;
using Lm.Runtime.Errors;
using Lm.Runtime.Files;
using Lm.Runtime.Models;
using Lm.Runtime.Tokenization;

namespace Lm.Runtime.Jobs.Export;

/// <summary>What a job trained elsewhere brought back: its model type, step count and results.</summary>
public sealed record AdoptedResult(string ModelType, int? GlobalStep, IReadOnlyDictionary<string, double> Metrics, IReadOnlyList<string> Files);

/// <summary>
/// Takes back a job that ran elsewhere (an <c>lm-tune export</c> run with transformers' <c>Trainer</c>, or any
/// Hugging Face output folder): the folder is checked to be a model lm-tune reads — a config.json of a supported
/// type, safetensors weights (single or sharded, headers valid), a tokenizer — and its top-level files become the
/// job's output, as if lm-tune had trained it. Checkpoint subfolders stay behind: their optimizer state is
/// transformers' pickles, which lm-tune never loads.
/// </summary>
public static class ResultAdoption
{
    /// <summary>
    /// Checks <paramref name="resultFolder"/>, then (only if it is a model lm-tune reads) lets the caller prepare the
    /// output folder and copies the files into <paramref name="outputDir"/>.
    /// </summary>
    public static AdoptedResult Adopt(string resultFolder, string outputDir, Action<string>? prepareOutput = null)
    {
        if (!Directory.Exists(resultFolder))
            throw new LmException(ErrorCodes.ResultFolderInvalid, $"result folder '{resultFolder}' does not exist") { File = resultFolder };
        var config = PretrainedModel.ReadConfig(resultFolder);
        using (CheckpointTensors.Open(resultFolder))
        {
            // Opening validates every header (and every shard the index lists); the tensors are read when loaded.
        }
        _ = LmTokenizer.FromPretrained(resultFolder);
        var metrics = Metrics(resultFolder);
        int? globalStep = GlobalStep(resultFolder);

        prepareOutput?.Invoke(outputDir);
        Directory.CreateDirectory(outputDir);
        var copied = new List<string>();
        foreach (string file in Directory.EnumerateFiles(resultFolder).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(file);
            // Links could point anywhere on the machine that produced them; lm-tune's own markers are its bookkeeping.
            if (name.StartsWith('.') || new FileInfo(file).LinkTarget is not null) continue;
            string target = Path.Combine(outputDir, name);
            string staging = target + $".adopting-{Environment.ProcessId}";
            File.Copy(file, staging, overwrite: true);
            File.Move(staging, target, overwrite: true);
            copied.Add(name);
        }
        return new AdoptedResult(config.ModelType, globalStep, metrics, copied);
    }

    /// <summary>The numbers of <c>all_results.json</c> (train and eval metrics as the Trainer saved them), if present.</summary>
    private static Dictionary<string, double> Metrics(string folder)
    {
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        string path = Path.Combine(folder, "all_results.json");
        if (!File.Exists(path)) return metrics;
        var json = JsonFields.Read(path, ErrorCodes.ResultFolderInvalid);
        foreach (var (key, value) in json.Json)
        {
            if (value is JsonValue number && number.TryGetValue(out double d)) metrics[key] = d;
        }
        return metrics;
    }

    private static int? GlobalStep(string folder)
    {
        string path = Path.Combine(folder, "trainer_state.json");
        if (!File.Exists(path)) return null;
        return JsonFields.Read(path, ErrorCodes.ResultFolderInvalid).Int("global_step", min: 0);
    }
}
