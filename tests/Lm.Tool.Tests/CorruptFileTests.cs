using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;

namespace Lm.Tool.Tests;

/// <summary>
/// Damaged or hostile files (checkpoint state, configs, tokenizer files, data, weights) end in the file's own LM
/// code, exit 1 and one JSON object on stdout with <c>--json</c>: never a crash of the process, a hang, or LM0599.
/// </summary>
public sealed class CorruptFileTests
{
    /// <summary>A run of four steps with checkpoints at steps 2 and 4, made once and copied by each test that damages one.</summary>
    private static readonly Lazy<string> TrainedRun = new(TrainFourSteps);

    private static string[] TrainArgs(string outputDir, int maxSteps) =>
    [
        "train", "--model", TinyModels.Gpt2, "--train-file", TinyModels.TrainFile, "--output-dir", outputDir,
        "--max-steps", maxSteps.ToString(), "--block-size", "32", "--per-device-train-batch-size", "2",
        "--max-train-samples", "16", "--report-to", "none", "--save-strategy", "steps", "--save-steps", "2",
    ];

    private static string TrainFourSteps()
    {
        string run = Path.Combine(Directory.CreateTempSubdirectory("lm-tool-trained-").FullName, "run");
        var result = LmTuneProcess.Run(TrainArgs(run, maxSteps: 4));
        if (result.ExitCode != 0) throw new InvalidOperationException($"training the shared run failed: {result}");
        return run;
    }

    private static string CopyOfTrainedRun(TempFolder work)
    {
        string copy = work["run"];
        foreach (string file in Directory.EnumerateFiles(TrainedRun.Value, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(copy, Path.GetRelativePath(TrainedRun.Value, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        return copy;
    }

    /// <summary>Exit 1, one JSON object on stdout whose error has <paramref name="code"/> and names <paramref name="fileName"/>.</summary>
    private static JsonObject AssertJsonError(LmTuneProcess.Result result, string code, string? fileName = null)
    {
        Assert.True(result.ExitCode == 1, result.ToString());
        var error = result.Json["error"]!.AsObject();
        Assert.Equal(code, error["code"]!.GetValue<string>());
        Assert.DoesNotContain("   at ", result.Stderr);
        if (fileName is not null) Assert.Contains(fileName, error["message"]!.GetValue<string>());
        return error;
    }

    private static void EditJson(string path, Action<JsonObject> edit)
    {
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(json);
        WriteAndReseal(path, json.ToJsonString());
    }

    /// <summary>
    /// Writes a damaged file into a checkpoint and records its new size in the completion marker, as a hostile or
    /// buggy writer would: the checkpoint looks complete, so the file's own validation must catch the damage (a size
    /// that differs from the marker is the incomplete-checkpoint case, tested with the checkpoint manager).
    /// </summary>
    private static void WriteAndReseal(string path, string content)
    {
        File.WriteAllText(path, content);
        string marker = Path.Combine(Path.GetDirectoryName(path)!, "checkpoint_complete.json");
        var json = JsonNode.Parse(File.ReadAllText(marker))!.AsObject();
        json["files"]![Path.GetFileName(path)] = new FileInfo(path).Length;
        File.WriteAllText(marker, json.ToJsonString());
    }

    private static LmTuneProcess.Result Resume(string run) =>
        LmTuneProcess.Run([.. TrainArgs(run, maxSteps: 4), "--resume-from-checkpoint", Path.Combine(run, "checkpoint-2"), "--json"]);

    [Fact]
    public void Resume_with_a_three_byte_rng_state_is_LM0431_not_an_abort()
    {
        using var work = new TempFolder();
        string run = CopyOfTrainedRun(work);
        WriteAndReseal(Path.Combine(run, "checkpoint-2", "rng_state.json"), "{\"cpu\": \"" + Convert.ToBase64String([1, 2, 3]) + "\"}");
        var error = AssertJsonError(Resume(run), "LM0431", "rng_state.json");
        Assert.Contains("3 bytes", error["message"]!.GetValue<string>());
    }

    [Fact]
    public void Resume_with_a_negative_global_step_is_LM0430_and_writes_no_checkpoint()
    {
        using var work = new TempFolder();
        string run = CopyOfTrainedRun(work);
        EditJson(Path.Combine(run, "checkpoint-2", "trainer_state.json"), json => json["global_step"] = -5);
        var error = AssertJsonError(Resume(run), "LM0430", "trainer_state.json");
        Assert.Contains("\"global_step\"", error["message"]!.GetValue<string>());
        Assert.Equal(new[] { "checkpoint-2", "checkpoint-4" }, Directory.GetDirectories(run, "checkpoint-*").Select(d => Path.GetFileName(d)).Order().ToArray());
    }

    [Theory]
    [InlineData("optimizer.json", "step", "-1", "LM0432")]
    [InlineData("scheduler.json", "last_epoch", "\"two\"", "LM0433")]
    [InlineData("trainer_progress.json", "tr_loss", "\"low\"", "LM0434")]
    [InlineData("trainer_state.json", "epoch", "\"first\"", "LM0430")]
    public void Resume_with_a_wrongly_typed_state_value_names_the_file_and_key(string file, string key, string value, string code)
    {
        using var work = new TempFolder();
        string run = CopyOfTrainedRun(work);
        EditJson(Path.Combine(run, "checkpoint-2", file), json => json[key] = JsonNode.Parse(value));
        var error = AssertJsonError(Resume(run), code, file);
        Assert.Contains($"\"{key}\"", error["message"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("{\"n_layer\": 1000000}", "LM0121")]
    [InlineData("{\"n_embd\": 600000000, \"n_head\": 1}", "LM0121")]
    [InlineData("{\"vocab_size\": 2000000000}", "LM0120")]
    [InlineData("{\"n_positions\": 2000000000}", "LM0120")]
    public void Absurd_config_sizes_are_refused_before_anything_is_allocated(string sizes, string code)
    {
        using var work = new TempFolder();
        var config = JsonNode.Parse("{\"model_type\": \"gpt2\", \"n_embd\": 64, \"n_head\": 2, \"n_layer\": 2}")!.AsObject();
        foreach (var (key, value) in JsonNode.Parse(sizes)!.AsObject()) config[key] = value!.DeepClone();
        File.WriteAllText(work["config.json"], config.ToJsonString());
        // Refused from the numbers: the error code (an attempted allocation ends in another error or the OOM killer)
        // and no model file say so; the time limit only stops a hang, as a wall-clock bound fails on a busy machine.
        var result = LmTuneProcess.Run(["init", work["config.json"], "--output-dir", work["model"], "--json"], timeoutSeconds: 120);
        AssertJsonError(result, code);
        Assert.False(File.Exists(work["model/model.safetensors"]));
    }

    private static string CopyOfTinyGpt2(TempFolder work)
    {
        string model = work["model"];
        Directory.CreateDirectory(model);
        foreach (string file in Directory.EnumerateFiles(TinyModels.Gpt2)) File.Copy(file, Path.Combine(model, Path.GetFileName(file)));
        return model;
    }

    [Theory]
    [InlineData("tokenizer_config.json", "{\"model_max_length\": \"long\"}", "LM0220", "model_max_length")]
    [InlineData("tokenizer_config.json", "{\"add_prefix_space\": \"yes\"}", "LM0220", "add_prefix_space")]
    [InlineData("tokenizer_config.json", "{\"added_tokens_decoder\": {\"-5\": {\"content\": \"<x>\", \"special\": true}}}", "LM0221", "-5")]
    [InlineData("tokenizer_config.json", "{\"added_tokens_decoder\": {\"99999999\": {\"content\": \"<x>\", \"special\": true}}}", "LM0221", "99999999")]
    [InlineData("special_tokens_map.json", "{\"eos_token\": 7}", "LM0220", "eos_token")]
    [InlineData("generation_config.json", "{\"eos_token_id\": \"end\"}", "LM0122", "eos_token_id")]
    [InlineData("generation_config.json", "{\"eos_token_id\": [50256, 1.5]}", "LM0122", "eos_token_id[1]")]
    [InlineData("config.json", "{\"model_type\": \"gpt2\", \"n_embd\": \"wide\"}", "LM0102", "n_embd")]
    public void Wrongly_typed_values_in_model_folder_files_have_the_files_code(string file, string content, string code, string named)
    {
        using var work = new TempFolder();
        string model = CopyOfTinyGpt2(work);
        File.WriteAllText(Path.Combine(model, file), content);
        var error = AssertJsonError(LmTuneProcess.Run("generate", "--model", model, "Hello", "--max-new-tokens", "2", "--json"), code);
        Assert.Contains(named, error["message"]!.GetValue<string>());
    }

    [Fact]
    public void A_lone_surrogate_in_json_lines_data_is_LM0320_with_its_line()
    {
        using var work = new TempFolder();
        File.WriteAllText(work["train.jsonl"], "{\"text\": \"fine\"}\n{\"text\": \"bad \\ud800 text\"}\n");
        var result = LmTuneProcess.Run(["train", "--model", TinyModels.Gpt2, "--train-file", work["train.jsonl"], "--output-dir", work["run"], "--json"]);
        var error = AssertJsonError(result, "LM0320");
        Assert.Equal(2, error["line"]!.GetValue<int>());
        Assert.False(Directory.Exists(work["run/checkpoint-1"]));
    }

    /// <summary>A copy of the tiny model whose final LayerNorm weight holds a NaN: every logit becomes NaN.</summary>
    private static string ModelWithNaNWeight(TempFolder work)
    {
        string model = CopyOfTinyGpt2(work);
        string weights = Path.Combine(model, "model.safetensors");
        byte[] bytes = File.ReadAllBytes(weights);
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        var header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, (int)headerLength))!.AsObject();
        var entry = header["transformer.ln_f.weight"]!.AsObject();
        Assert.Equal("F32", entry["dtype"]!.GetValue<string>());
        long start = entry["data_offsets"]![0]!.GetValue<long>();
        BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan((int)(8 + headerLength + start)), float.NaN);
        File.WriteAllBytes(weights, bytes);
        return model;
    }

    [Fact]
    public void Evaluate_with_NaN_weights_is_LM0123_not_a_null_loss()
    {
        using var work = new TempFolder();
        string model = ModelWithNaNWeight(work);
        var result = LmTuneProcess.Run("evaluate", "--model", model, "--validation-file", TinyModels.ValidationFile,
            "--block-size", "32", "--max-eval-samples", "4", "--output-dir", work["eval"], "--json");
        AssertJsonError(result, "LM0123");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Generate_with_NaN_weights_is_LM0123(bool sample)
    {
        using var work = new TempFolder();
        string model = ModelWithNaNWeight(work);
        string[] args = ["generate", "--model", model, "Hello", "--max-new-tokens", "3", "--json"];
        AssertJsonError(LmTuneProcess.Run(sample ? [.. args, "--do-sample", "--seed", "1"] : args), "LM0123");
    }

    [Fact]
    public void A_tokenizer_with_more_tokens_than_the_model_is_LM0221_at_the_first_forward()
    {
        using var work = new TempFolder();
        File.WriteAllText(work["config.json"], "{\"model_type\": \"gpt2\", \"vocab_size\": 1000, \"n_embd\": 16, \"n_head\": 2, \"n_layer\": 1, \"n_positions\": 64}");
        var init = LmTuneProcess.Run("init", work["config.json"], "--output-dir", work["model"]);
        Assert.True(init.ExitCode == 0, init.ToString());
        // "Hello world" is [15496, 995] in GPT-2's vocabulary, which init saved with the model.
        var error = AssertJsonError(LmTuneProcess.Run("generate", "--model", work["model"], "Hello world", "--json"), "LM0221");
        Assert.Contains("vocab_size 1000", error["message"]!.GetValue<string>());
    }

    [Fact]
    public void Training_a_model_whose_four_copies_cannot_fit_is_LM0120_before_tokenizing()
    {
        using var work = new TempFolder();
        // Before tokenizing or building the model: the log says so (no wall-clock bound; the limit only stops a hang).
        var result = LmTuneProcess.Run(["train", "--config-name", "tiny-gpt2", "--config-overrides", "vocab_size=1500000000",
            "--train-file", TinyModels.TrainFile, "--output-dir", work["run"], "--json"], timeoutSeconds: 120);
        var error = AssertJsonError(result, "LM0120");
        Assert.Contains("4 copies training holds", error["message"]!.GetValue<string>());
        Assert.DoesNotContain("tokenize", result.Stderr);
    }
}
