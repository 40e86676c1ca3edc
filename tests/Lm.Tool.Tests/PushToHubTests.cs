using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Lm.Runtime.Tests.Hub;

namespace Lm.Tool.Tests;

/// <summary>
/// <c>lm-tune train --push-to-hub</c> end to end against the loopback hub: what is committed (files, NDJSON lines,
/// commit messages per hub_strategy), that the pushed model downloads and evaluates as the local folder does, that
/// the token is never shown, and that a failed push keeps the output folder.
/// </summary>
public sealed class PushToHubTests
{
    private const string Token = "hf_push_e2e_secret_9f8e7d6c5b4a";

    private static Dictionary<string, string?> Environment(LoopbackHub hub, TempFolder temp, string? token = Token) => new()
    {
        ["HF_ENDPOINT"] = hub.Endpoint, ["HF_HOME"] = temp["home"], ["HF_TOKEN"] = token,
    };

    /// <summary>A few steps of tiny-gpt2 with TensorBoard on (HF uploads runs/) and no checkpoints unless asked.</summary>
    private static string[] Training(string output, params string[] more) =>
    [
        "train", "--model", "tiny-gpt2", "--train-file", TinyModels.TrainFile, "--validation-file", TinyModels.ValidationFile,
        "--output-dir", output, "--max-steps", "4", "--block-size", "32", "--per-device-train-batch-size", "2",
        "--per-device-eval-batch-size", "4", "--max-train-samples", "16", "--max-eval-samples", "8", "--logging-steps", "2",
        .. more,
    ];

    private static string[] Evaluation(string model) =>
    [
        "evaluate", "--model", model, "--validation-file", TinyModels.ValidationFile, "--block-size", "32",
        "--per-device-eval-batch-size", "4", "--max-eval-samples", "8", "--json",
    ];

    /// <summary>The files of a local folder as upload_folder sees them (relative, '/'-separated), less HF's ignore patterns.</summary>
    private static SortedSet<string> PushedFilesOf(string folder) =>
        new(Directory.GetFiles(folder, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(folder, f).Replace('\\', '/'))
            .Where(f => !f.StartsWith("checkpoint-", StringComparison.Ordinal) && !f.StartsWith('_')), StringComparer.Ordinal);

    private static string Sha256(string file) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file)));

    [Fact]
    public void Train_pushes_the_output_folder_and_the_hub_model_evaluates_as_the_local_one()
    {
        using var hub = new LoopbackHub();
        hub.AddUser(Token, "alice", "acme");
        using var temp = new TempFolder();
        string output = temp["run"];

        var train = LmTuneProcess.Run([.. Training(output, "--do-eval", "--save-strategy", "no", "--report-to", "tensorboard",
            "--push-to-hub", "--hub-model-id", "acme/tiny-pushed", "--hub-strategy", "end", "--hub-private-repo", "--hub-token", Token,
            "--verbose")], Environment(hub, temp, token: null));
        Assert.True(train.ExitCode == 0, train.ToString());
        Assert.DoesNotContain(Token, train.Stdout + train.Stderr);
        // Nor is it written anywhere (training_args.json and TensorBoard's args text hold HF's placeholder), so not pushed.
        Assert.All(Directory.GetFiles(output, "*", SearchOption.AllDirectories),
            f => Assert.DoesNotContain(Token, System.Text.Encoding.UTF8.GetString(File.ReadAllBytes(f))));
        Assert.All(hub.Requests.Where(r => r.Method == "POST"), r => Assert.Equal("Bearer " + Token, r.Authorization));
        Assert.Contains("pushing to hub repository acme/tiny-pushed (end)", train.Stderr);
        Assert.True(hub.IsPrivate("acme/tiny-pushed"));

        // run_clm.py's save_model() push after training, then push_to_hub() at the end; HF's hub_strategy "end" pushes nothing else.
        Assert.Equal(["Model save", "End of training"], hub.Commits.Select(c => c.Summary));
        // What is on the hub is exactly the output folder (runs/ included, as HF uploads it), byte for byte.
        var onHub = hub.FilesOf("acme/tiny-pushed");
        Assert.Equal(PushedFilesOf(output), new SortedSet<string>(onHub.Keys, StringComparer.Ordinal));
        foreach (var (path, (content, _)) in onHub) Assert.Equal(File.ReadAllBytes(Path.Combine(output, path)), content);
        Assert.Contains(onHub.Keys, p => p.StartsWith("runs/", StringComparison.Ordinal) && p.Contains("tfevents", StringComparison.Ordinal));
        Assert.True(onHub["model.safetensors"].Lfs);
        Assert.False(onHub["config.json"].Lfs);

        // The first commit: the header, then one line per file in upload_folder's order; weights by sha256, others inline.
        var first = hub.Commits.First();
        Assert.Equal("{\"key\":\"header\",\"value\":{\"summary\":\"Model save\",\"description\":\"\"}}", first.Lines[0]);
        string weights = Path.Combine(output, "model.safetensors");
        Assert.Contains($"{{\"key\":\"lfsFile\",\"value\":{{\"path\":\"model.safetensors\",\"algo\":\"sha256\",\"oid\":\"{Sha256(weights)}\",\"size\":{new FileInfo(weights).Length}}}}}", first.Lines);
        Assert.Contains($"{{\"key\":\"file\",\"value\":{{\"content\":\"{Convert.ToBase64String(File.ReadAllBytes(Path.Combine(output, "config.json")))}\",\"path\":\"config.json\",\"encoding\":\"base64\"}}}}", first.Lines);
        // The last commit carries only what changed since: the evaluation and the card, not the weights again.
        var last = hub.Commits.Last();
        var lastPaths = last.Lines.Skip(1).Select(l => JsonNode.Parse(l)!["value"]!["path"]!.GetValue<string>()).ToList();
        Assert.Contains("eval_results.json", lastPaths);
        Assert.Contains("README.md", lastPaths);
        Assert.DoesNotContain("model.safetensors", lastPaths);

        // The model card: HF's layout with the run's evaluation in model-index and lm-tune in the framework versions.
        string card = File.ReadAllText(Path.Combine(output, "README.md"));
        double evalLoss = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "eval_results.json")))!["eval_loss"]!.GetValue<double>();
        Assert.StartsWith("---\nlibrary_name: transformers\ntags:\n- generated_from_trainer\n- lm-tune\n", card);
        Assert.Contains("model-index:\n- name: tiny-pushed\n  results:\n  - task:\n      name: Causal Language Modeling\n      type: text-generation\n", card);
        Assert.Contains($"    - name: Loss\n      type: loss\n      value: {JsonValue.Create(evalLoss).ToJsonString()}\n", card);
        Assert.Contains("This model was trained from scratch on an unknown dataset.", card);
        Assert.True(card.Contains("- learning_rate: 5e-05\n- train_batch_size: 2\n- eval_batch_size: 4\n- seed: 42\n", StringComparison.Ordinal), card);
        Assert.Contains("- training_steps: 4\n", card);
        Assert.Contains("### Framework versions\n\n- lm-tune ", card);
        Assert.Equal("<HUB_TOKEN>", JsonNode.Parse(File.ReadAllText(Path.Combine(output, "training_args.json")))!["hub_token"]!.GetValue<string>());

        // --model org/name downloads what was pushed and evaluates exactly as the local output folder.
        var local = LmTuneProcess.Run(Evaluation(output), Environment(hub, temp));
        var fromHub = LmTuneProcess.Run(Evaluation("acme/tiny-pushed"), Environment(hub, temp));
        Assert.True(local.ExitCode == 0, local.ToString());
        Assert.True(fromHub.ExitCode == 0, fromHub.ToString());
        Assert.Equal(local.Json["eval_loss"]!.ToJsonString(), fromHub.Json["eval_loss"]!.ToJsonString());
        Assert.Equal(evalLoss, fromHub.Json["eval_loss"]!.GetValue<double>(), 5);
        Assert.DoesNotContain(Token, fromHub.Stdout + fromHub.Stderr);
    }

    [Fact]
    public void A_pasted_TrainingArguments_dump_with_hub_strategy_checkpoint_pushes_each_save_and_last_checkpoint()
    {
        using var hub = new LoopbackHub();
        hub.AddUser(Token, "alice");
        using var temp = new TempFolder();
        string output = temp["my-run"];
        var dump = JsonNode.Parse(File.ReadAllText(Path.Combine(LmTuneProcess.RepoRoot, "tests", "Lm.Runtime.Tests", "Jobs", "Data", "training_args.json")))!.AsObject();
        dump["output_dir"] = output;
        dump["push_to_hub"] = true;
        dump["hub_strategy"] = "checkpoint";
        dump["report_to"] = new JsonArray();
        File.WriteAllText(temp["training_args.json"], dump.ToJsonString());

        // No hub_model_id: HF's default is the output folder's name, created under the token's user.
        var train = LmTuneProcess.Run(["train", "--config", temp["training_args.json"], .. Training(output, "--save-steps", "2")[1..]], Environment(hub, temp));
        Assert.True(train.ExitCode == 0, train.ToString());
        Assert.DoesNotContain(Token, train.Stdout + train.Stderr);

        Assert.Equal(["Training in progress, step 2", "Training in progress, step 2, checkpoint", "Training in progress, step 4",
            "Training in progress, step 4, checkpoint", "Model save", "End of training"], hub.Commits.Select(c => c.Summary));
        Assert.All(hub.Commits, c => Assert.Equal("alice/my-run", c.RepoId));
        // The step-2 push carries checkpoint-2's model at the top, as HF copies it there before uploading.
        string step2Weights = Path.Combine(output, "checkpoint-2", "model.safetensors");
        Assert.Contains(hub.Commits.First().Lines, l => l.Contains($"\"path\":\"model.safetensors\",\"algo\":\"sha256\",\"oid\":\"{Sha256(step2Weights)}\"", StringComparison.Ordinal));
        Assert.DoesNotContain(hub.Commits.First().Lines, l => l.Contains("optimizer", StringComparison.Ordinal));
        // HF's _push_from_checkpoint copies the model files, tokenizer and arguments only: nothing that resumes or marks
        // a checkpoint (lm-tune's checkpoint_complete.json) reaches the repository's top.
        Assert.DoesNotContain(hub.Commits.First().Lines, l => l.Contains("checkpoint_complete", StringComparison.Ordinal));

        // last-checkpoint/ is checkpoint-4, every file of it (to resume from), and no checkpoint-N/ folder is pushed.
        var onHub = hub.FilesOf("alice/my-run");
        string checkpoint4 = Path.Combine(output, "checkpoint-4");
        var expected = Directory.GetFiles(checkpoint4).Select(f => "last-checkpoint/" + Path.GetFileName(f)).Order(StringComparer.Ordinal).ToList();
        Assert.Contains("last-checkpoint/optimizer.safetensors", expected);
        Assert.Equal(expected, onHub.Keys.Where(k => k.StartsWith("last-checkpoint/", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        foreach (string file in Directory.GetFiles(checkpoint4))
            Assert.Equal(File.ReadAllBytes(file), onHub["last-checkpoint/" + Path.GetFileName(file)].Content);
        Assert.DoesNotContain(onHub.Keys, k => k.StartsWith("checkpoint-", StringComparison.Ordinal));
        Assert.Equal(File.ReadAllBytes(Path.Combine(output, "model.safetensors")), onHub["model.safetensors"].Content);
    }

    [Fact]
    public void A_failed_push_is_an_LM_error_with_the_hubs_message_and_keeps_the_output_folder()
    {
        using var hub = new LoopbackHub();
        hub.AddUser(Token, "alice", "acme");
        hub.FailNext("/commit/", 500, "Internal Error - We're working hard to fix this as soon as possible!", times: 10);
        using var temp = new TempFolder();
        string output = temp["run"];

        var train = LmTuneProcess.Run([.. Training(output, "--do-eval", "--save-strategy", "no", "--report-to", "none",
            "--push-to-hub", "--hub-model-id", "acme/fails", "--hub-strategy", "end")], Environment(hub, temp));

        Assert.Equal(1, train.ExitCode);
        Assert.Contains("error LM0540:", train.Stderr);
        Assert.Contains("the hub answered 500 Internal Server Error: Internal Error - We're working hard to fix this as soon as possible!", train.Stderr);
        Assert.Contains("warning", train.Stderr); // the "Model save" push failed first, and the run went on to evaluate
        Assert.DoesNotContain("   at ", train.Stderr);
        Assert.DoesNotContain(Token, train.Stdout + train.Stderr);
        Assert.Empty(hub.Commits);
        foreach (string file in new[] { "model.safetensors", "config.json", "eval_results.json", "README.md" })
            Assert.True(File.Exists(Path.Combine(output, file)), file);
    }

    [Fact]
    public void Push_without_a_token_is_LM0545_before_anything_is_written()
    {
        using var hub = new LoopbackHub();
        using var temp = new TempFolder();
        var train = LmTuneProcess.Run([.. Training(temp["run"], "--push-to-hub", "--hub-model-id", "acme/x")], Environment(hub, temp, token: null));

        Assert.Equal(1, train.ExitCode);
        Assert.Contains("error LM0545:", train.Stderr);
        Assert.False(Directory.Exists(temp["run"]));
        Assert.Empty(hub.Requests);
    }

    [Fact]
    public void A_bad_hub_model_id_is_LM0546_and_an_unknown_strategy_is_LM0401()
    {
        using var hub = new LoopbackHub();
        using var temp = new TempFolder();
        var badId = LmTuneProcess.Run([.. Training(temp["run"], "--push-to-hub", "--hub-model-id", "acme/bad name")], Environment(hub, temp));
        Assert.Equal(1, badId.ExitCode);
        Assert.Contains("error LM0546: hub_model_id 'acme/bad name' is not a hub repository id", badId.Stderr);

        var badStrategy = LmTuneProcess.Run([.. Training(temp["run"], "--push-to-hub", "--hub-strategy", "sometimes")], Environment(hub, temp));
        Assert.Equal(1, badStrategy.ExitCode);
        Assert.Contains("error LM0401:", badStrategy.Stderr);
        Assert.Contains("hub_strategy", badStrategy.Stderr);
        Assert.Empty(hub.Requests);
    }
}
