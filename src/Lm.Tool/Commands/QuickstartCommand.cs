using System.CommandLine;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Lm.Runtime.Errors;
using Lm.Runtime.Generation;
using Lm.Runtime.Jobs;
using Lm.Runtime.Training;
using Lm.Runtime.Native;
using Lm.Tool.Cli;
using Lm.Tool.Progress;

namespace Lm.Tool.Commands;

/// <summary>
/// <c>lm-tune quickstart</c>: the whole workflow on what ships inside the tool, with no network and no GPU: a small
/// GPT-2 (<c>tiny-gpt2</c>, GPT-2's vocabulary) is evaluated, trained a few minutes on the bundled WikiText-2 sample,
/// evaluated again, and asked to write a sentence. Every train flag can override the defaults.
/// </summary>
internal static class QuickstartCommand
{
    /// <summary>The defaults, as a job file would give them; flags win over them.</summary>
    private static JsonObject Defaults(string dataFolder) => new()
    {
        ["model_name_or_path"] = "tiny-gpt2",
        ["train_file"] = Path.Combine(dataFolder, "train.txt"),
        ["validation_file"] = Path.Combine(dataFolder, "validation.txt"),
        ["output_dir"] = "lm-tune-quickstart",
        ["overwrite_output_dir"] = true,
        ["do_train"] = true,
        ["do_eval"] = true,
        ["block_size"] = 128,
        ["per_device_train_batch_size"] = 8,
        ["per_device_eval_batch_size"] = 8,
        ["num_train_epochs"] = 4.0,
        // A model trained from scratch learns with a far larger step than fine-tuning's 5e-5.
        ["learning_rate"] = 2e-3,
        ["warmup_ratio"] = 0.1,
        ["logging_steps"] = 20.0,
        ["save_strategy"] = IntervalStrategy.No,
        ["report_to"] = "none",
    };

    public static Command Create(LmTuneApp app)
    {
        var jobOptions = new JobOptions();
        var prompt = new Option<string>("--prompt") { Description = "How the generated sentence starts", DefaultValueFactory = _ => "The game" };
        var command = new Command("quickstart",
            "Train a small GPT-2 on the bundled WikiText-2 sample (no network, no GPU): perplexity before and after, then a generated sentence")
        {
            prompt,
        };
        jobOptions.AddTo(command);
        app.SetAction(command, async invocation =>
        {
            var output = invocation.Output;
            var json = Defaults(BundledData());
            foreach (var (key, value) in jobOptions.ReadJson(invocation)) json[key] = value?.DeepClone();
            var job = FineTuneJob.FromJson(json);
            job.Validate();
            OutputFolder.Prepare(job.Training.OutputDir, job.Training.OverwriteOutputDir, resumeAllowed: false);

            using var progress = ProgressReporter.Create(output);
            using var run = await JobRunner.OpenAsync(job, train: true, eval: true, new CliJobProgress(output, progress), invocation.Cancellation);
            var before = run.EvaluateNow(invocation.Cancellation);
            progress.Line($"before training: eval_loss {JobProgress.FormatNumber(before["eval_loss"])}, perplexity {JobProgress.FormatNumber(before["perplexity"])}");
            using var trainer = run.CreateTrainer();
            var trained = trainer.RunTraining(invocation.Cancellation);
            progress.End("train");
            var after = run.RunEvaluation(trainer, invocation.Cancellation);
            var all = new Dictionary<string, double>(trained.Metrics);
            foreach (var (key, value) in after) all[key] = value;
            trainer.WriteReport(all, "lm-tune quick start");
            progress.Dispose();

            string start = invocation.Get(prompt)!;
            string sentence = Generate(run, start, job.Training.Seed, invocation.Cancellation);
            var result = new JsonObject
            {
                ["output_dir"] = Path.GetFullPath(job.Training.OutputDir),
                ["model"] = run.Source.Name,
                ["global_step"] = trained.GlobalStep,
                ["perplexity_before"] = Finite(before["perplexity"]),
                ["perplexity_after"] = Finite(after["perplexity"]),
                ["eval_loss_before"] = before["eval_loss"],
                ["eval_loss_after"] = after["eval_loss"],
                ["train_loss"] = Finite(trained.Metrics.GetValueOrDefault("train_loss", double.NaN)),
                ["train_runtime"] = trained.Metrics.GetValueOrDefault("train_runtime"),
                ["prompt"] = start,
                ["generated_text"] = sentence,
            };
            return new CommandResult(result, o =>
            {
                o.WriteLine($"perplexity before training: {JobProgress.FormatNumber(before["perplexity"])}");
                o.WriteLine($"perplexity after training:  {JobProgress.FormatNumber(after["perplexity"])}");
                o.WriteLine($"generated: {sentence}");
                o.WriteLine($"model saved to {Path.GetFullPath(job.Training.OutputDir)}");
            });
        });
        return command;
    }

    /// <summary>A seeded sample of up to 30 tokens, stopped at the end of the first sentence.</summary>
    private static string Generate(JobRunner run, string start, long seed, CancellationToken cancellation)
    {
        var tokenizer = run.Source.Tokenizer;
        var model = run.Model;
        model.eval();
        var options = new GenerationOptions
        {
            MaxNewTokens = 30,
            DoSample = true,
            TopK = 50,
            Seed = seed,
            EosTokenIds = tokenizer.EosTokenId is int eos ? new long[] { eos } : Array.Empty<long>(),
        };
        long[] ids = tokenizer.Encode(start).Select(i => (long)i).ToArray();
        var result = TextGenerator.Generate(model, ids, options, cancellation: cancellation);
        string text = start + tokenizer.Decode(result.NewTokenIds.Select(i => (int)i), skipSpecialTokens: true);
        int end = text.IndexOfAny(new[] { '.', '\n' }, start.Length);
        return (end >= 0 ? text[..(end + 1)] : text).Trim();
    }

    private static double? Finite(double value) => double.IsFinite(value) ? value : null;

    /// <summary>
    /// Writes the bundled WikiText-2 sample (embedded in the tool, so an installed tool works anywhere) to the cache,
    /// once per content, and returns its folder.
    /// </summary>
    /// <param name="resources">The assembly holding the data; the tool's own (tests pass another to reach LM0512).</param>
    internal static string BundledData(System.Reflection.Assembly? resources = null)
    {
        var assembly = resources ?? typeof(QuickstartCommand).Assembly;
        var files = new[] { "train.txt", "validation.txt" }.ToDictionary(name => name, name =>
        {
            using var stream = assembly.GetManifestResourceStream("quickstart/" + name)
                ?? throw new LmException(ErrorCodes.QuickstartDataMissing, $"the tool lacks its bundled quickstart/{name}; reinstall it, or pass --train-file and --validation-file");
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            return copy.ToArray();
        });
        string hash = Convert.ToHexStringLower(SHA256.HashData(files["train.txt"].Concat(files["validation.txt"]).ToArray()))[..16];
        string folder = Path.Combine(TorchRuntime.CacheRoot, "quickstart", hash);
        Directory.CreateDirectory(folder);
        foreach (var (name, bytes) in files)
        {
            string path = Path.Combine(folder, name);
            if (File.Exists(path) && new FileInfo(path).Length == bytes.Length) continue;
            string temp = path + "." + Environment.ProcessId + ".tmp";
            File.WriteAllBytes(temp, bytes);
            File.Move(temp, path, overwrite: true);
        }
        return folder;
    }
}
