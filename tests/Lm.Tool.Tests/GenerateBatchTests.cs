using System.Text.Json.Nodes;

namespace Lm.Tool.Tests;

public sealed class GenerateBatchTests
{
    private static long[] NewIds(JsonNode result) => result["new_token_ids"]!.AsArray().Select(n => n!.GetValue<long>()).ToArray();

    private static JsonObject Ok(LmTuneProcess.Result result)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        return result.Json;
    }

    [Fact]
    public void Prompts_from_flags_and_from_a_file_run_as_one_batch_with_each_prompts_own_greedy_ids()
    {
        using var work = new TempFolder();
        string[] prompts = ["Hello world", "The game began after a long and quiet night", "A"];
        var batch = Ok(LmTuneProcess.Run(["generate", "--model", "tiny-gpt2", "--prompt", prompts[0], "--prompt", prompts[1], "--prompt", prompts[2],
            "--max-new-tokens", "5", "--json"]));
        var results = batch["results"]!.AsArray();
        Assert.Equal(3, results.Count);
        Assert.Null(batch["new_token_ids"]);
        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(prompts[i], results[i]!["prompt"]!.GetValue<string>());
            Assert.StartsWith(prompts[i], results[i]!["generated_text"]!.GetValue<string>());
            Assert.Equal(5, NewIds(results[i]!).Length);
            var alone = Ok(LmTuneProcess.Run("generate", "--model", "tiny-gpt2", prompts[i], "--max-new-tokens", "5", "--json"));
            Assert.Equal(NewIds(alone), NewIds(results[i]!));
            Assert.Equal(NewIds(alone), NewIds(alone["results"]![0]!));
        }

        // One prompt per line; CRLF line ends and empty lines do not make prompts.
        File.WriteAllText(work["prompts.txt"], $"{prompts[0]}\r\n\r\n{prompts[1]}\n{prompts[2]}\n");
        var fromFile = Ok(LmTuneProcess.Run("generate", "--model", "tiny-gpt2", "--file", work["prompts.txt"], "--max-new-tokens", "5", "--json"));
        Assert.Equal(results.ToJsonString(), fromFile["results"]!.ToJsonString());

        var text = LmTuneProcess.Run("generate", "--model", "tiny-gpt2", "--file", work["prompts.txt"], "--max-new-tokens", "5");
        Assert.Equal(string.Join("\n\n", results.Select(r => r!["generated_text"]!.GetValue<string>())) + "\n", text.Stdout.Replace("\r\n", "\n"));
    }

    [Fact]
    public void A_generation_config_with_a_list_of_eos_ids_stops_at_either()
    {
        using var work = new TempFolder();
        string model = work["model"];
        Ok(LmTuneProcess.Run("init", "tiny-gpt2", "--output-dir", model, "--json"));
        var free = NewIds(Ok(LmTuneProcess.Run("generate", "--model", model, "Hello world", "--max-new-tokens", "8", "--json")));
        // The latest step whose token is new there (a random tiny model repeats itself, so this may be the first).
        int step = Enumerable.Range(0, 7).Last(s => !free.Take(s).Contains(free[s]));
        File.WriteAllText(Path.Combine(model, "generation_config.json"),
            $$"""{"eos_token_id": [50000, {{free[step]}}], "max_new_tokens": 8, "transformers_version": "4.46.3"}""");
        var stopped = Ok(LmTuneProcess.Run("generate", "--model", model, "Hello world", "--json"));
        Assert.Equal(free.Take(step + 1), NewIds(stopped));
        Assert.Equal("eos", stopped["stop_reason"]!.GetValue<string>());
        // The flag overrides the file's max_new_tokens.
        var shorter = Ok(LmTuneProcess.Run("generate", "--model", model, "Hello world", "--max-new-tokens", "1", "--json"));
        Assert.Equal(free.Take(1), NewIds(shorter));
        Assert.Equal(step == 0 ? "eos" : "max_new_tokens", shorter["stop_reason"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("--repetition-penalty", "0")]
    [InlineData("--max-length", "0")]
    [InlineData("--max-new-tokens", "-3")]
    public void Out_of_range_generation_flags_are_LM0511_before_any_model_loads(string flag, string value)
    {
        var result = LmTuneProcess.Run("generate", "--model", "acme/no-such-model", "Hello", flag, value);
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("error LM0511:", result.Stderr);
        Assert.Contains(flag[2..].Replace('-', '_'), result.Stderr);
    }

    [Fact]
    public void No_prompt_at_all_is_LM0511()
    {
        var result = LmTuneProcess.Run("generate", "--model", "acme/no-such-model");
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("error LM0511:", result.Stderr);
        Assert.Contains("--prompt", result.Stderr);
    }

    [Fact]
    public void A_missing_or_empty_prompt_file_is_LM0172_before_any_model_loads()
    {
        using var work = new TempFolder();
        File.WriteAllText(work["empty.txt"], "\n\r\n\n");
        foreach (string file in new[] { work["missing.txt"], work["empty.txt"] })
        {
            var result = LmTuneProcess.Run("generate", "--model", "acme/no-such-model", "--file", file);
            Assert.True(result.ExitCode == 1, result.ToString());
            Assert.Contains("error LM0172:", result.Stderr);
            Assert.DoesNotContain("   at ", result.Stderr);
        }
    }
}
