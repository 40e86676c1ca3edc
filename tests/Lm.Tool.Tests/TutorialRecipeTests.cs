using System.Text.Json.Nodes;
using Lm.Runtime.Tests.Data;
using Lm.Runtime.Tests.Hub;

namespace Lm.Tool.Tests;

/// <summary>
/// README's tutorial recipe as a hub user runs it: a model id and the wikitext dataset config, both fetched into
/// the Hugging Face cache from a hub (here a loopback server serving a tiny GPT-2 as <c>distilgpt2</c> and WikiText-2
/// rows as the dataset's parquet shards), then the same command again offline from the cache.
/// </summary>
public sealed class TutorialRecipeTests
{
    [Fact]
    public async Task Causal_lm_recipe_downloads_model_and_dataset_then_repeats_offline_with_the_same_result()
    {
        using var hub = new LoopbackHub();
        foreach (string file in Directory.GetFiles(TinyModels.Gpt2))
        {
            string name = Path.GetFileName(file);
            hub.AddFile("distilgpt2", name, File.ReadAllBytes(file), lfs: name.EndsWith(".safetensors", StringComparison.Ordinal));
        }
        using var work = new TempFolder();
        // Rows as load_dataset gives them for wikitext: each line with its "\n", blank lines as "".
        string[] Rows(string file, int count) =>
            File.ReadLines(file).Take(count).Select(l => l.Length == 0 ? "" : l + "\n").ToArray();
        string train = Path.Combine(work.Path, "train.parquet"), validation = Path.Combine(work.Path, "validation.parquet");
        await ParquetFiles.Write(train, ("text", [Rows(TinyModels.TrainFile, 60)]));
        await ParquetFiles.Write(validation, ("text", [Rows(TinyModels.ValidationFile, 30)]));
        foreach (var (split, file) in new[] { ("train", train), ("validation", validation), ("test", validation) })
            hub.AddFile("datasets/Salesforce/wikitext", $"wikitext-2-raw-v1/{split}-00000-of-00001.parquet", File.ReadAllBytes(file), lfs: true);

        string[] Recipe(string output) =>
        [
            "train", "--model", "distilgpt2", "--dataset-name", "wikitext", "--dataset-config-name", "wikitext-2-raw-v1",
            "--block-size", "32", "--learning-rate", "2e-5", "--weight-decay", "0.01", "--num-train-epochs", "1",
            "--eval-strategy", "epoch", "--do-eval", "--output-dir", output, "--report-to", "none", "--json",
        ];
        string home = Path.Combine(work.Path, "hf");
        var online = LmTuneProcess.Run(Recipe(Path.Combine(work.Path, "online")),
            new Dictionary<string, string?> { ["HF_ENDPOINT"] = hub.Endpoint, ["HF_HOME"] = home });
        Assert.True(online.ExitCode == 0, online.ToString());

        int requests = hub.Requests.Count;
        var offline = LmTuneProcess.Run(Recipe(Path.Combine(work.Path, "offline")),
            new Dictionary<string, string?> { ["HF_ENDPOINT"] = hub.Endpoint, ["HF_HOME"] = home, ["HF_HUB_OFFLINE"] = "1" });
        Assert.True(offline.ExitCode == 0, offline.ToString());
        Assert.Equal(requests, hub.Requests.Count);

        Assert.True(Directory.Exists(Path.Combine(home, "hub", "models--distilgpt2", "snapshots")));
        Assert.True(Directory.Exists(Path.Combine(home, "hub", "datasets--Salesforce--wikitext", "snapshots")));
        var results = JsonNode.Parse(File.ReadAllText(Path.Combine(work.Path, "online", "all_results.json")))!.AsObject();
        double evalLoss = results["eval_loss"]!.GetValue<double>();
        Assert.Equal(Math.Exp(evalLoss), results["perplexity"]!.GetValue<double>(), 1e-9);
        Assert.True(results["train_samples"]!.GetValue<int>() > 0);
        Assert.Equal(1.0, results["epoch"]!.GetValue<double>());
        Assert.Equal(File.ReadAllText(Path.Combine(work.Path, "online", "all_results.json")).Split('\n').Where(NotTiming),
            File.ReadAllText(Path.Combine(work.Path, "offline", "all_results.json")).Split('\n').Where(NotTiming));
    }

    private static bool NotTiming(string line) => !line.Contains("runtime") && !line.Contains("per_second");
}
