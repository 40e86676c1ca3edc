using System.Text.Json.Nodes;

namespace Lm.Tool.Tests;

/// <summary>
/// Chat data and chat generation from the command line, with the sample project's template (each turn's role tag,
/// text and GPT-2's EOS) on tiny-llama, whose vocabulary is GPT-2's.
/// </summary>
public sealed class ChatToolTests
{
    private static string Template => Path.Combine(LmTuneProcess.RepoRoot, "sample-project", "data", "chat_template.jinja");

    private static string SampleChat => Path.Combine(LmTuneProcess.RepoRoot, "sample-project", "data", "chat.jsonl");

    [Fact]
    public void Data_preview_marks_exactly_the_assistant_replies_as_trained()
    {
        using var work = new TempFolder();
        string data = work["chat.jsonl"];
        File.WriteAllText(data,
            "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello!\"}, " +
            "{\"role\": \"user\", \"content\": \"Bye\"}, {\"role\": \"assistant\", \"content\": \"Goodbye.\"}]}\n");
        var result = LmTuneProcess.Run("data", "preview", "--model", "tiny-llama", "--train-file", data, "--validation-split-percentage", "0",
            "--chat-template", Template, "-n", "1", "--json");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("messages", result.Json["format"]!.GetValue<string>());
        Assert.True(result.Json["assistant_only_loss"]!.GetValue<bool>());
        var row = result.Json["rows"]![0]!;
        Assert.Equal("<|system|>\nBe brief.<|endoftext|>\n<|user|>\nHi<|endoftext|>\n<|assistant|>\nHello!<|endoftext|>\n" +
            "<|user|>\nBye<|endoftext|>\n<|assistant|>\nGoodbye.<|endoftext|>\n", row["text"]!.GetValue<string>());
        var trained = row["segments"]!.AsArray().Where(s => s!["trained"]!.GetValue<bool>()).Select(s => s!["text"]!.GetValue<string>()).ToArray();
        Assert.Equal(["Hello!<|endoftext|>\n", "Goodbye.<|endoftext|>\n"], trained);
        Assert.Equal(string.Concat(row["segments"]!.AsArray().Select(s => s!["text"]!.GetValue<string>())), row["text"]!.GetValue<string>());

        var text = LmTuneProcess.Run("data", "preview", "--model", "tiny-llama", "--train-file", data, "--validation-split-percentage", "0",
            "--chat-template", Template, "-n", "1");
        Assert.True(text.ExitCode == 0, text.ToString());
        Assert.Contains("<|assistant|>\n[[Hello!<|endoftext|>\n]]<|user|>", text.Stdout);
    }

    [Fact]
    public void Data_stats_counts_rows_sequences_and_trained_tokens_of_chat_data()
    {
        var result = LmTuneProcess.Run("data", "stats", "--model", "tiny-llama", "--train-file", SampleChat, "--chat-template", Template,
            "--packing", "--max-seq-length", "128", "--json");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("messages", result.Json["format"]!.GetValue<string>());
        var train = result.Json["splits"]!["train"]!;
        var validation = result.Json["splits"]!["validation"]!;
        // 320 rows, the first 5% (16) for validation as run_clm.py's train[:5%].
        Assert.Equal(304, train["rows"]!.GetValue<int>());
        Assert.Equal(16, validation["rows"]!.GetValue<int>());
        Assert.True(train["sequences"]!.GetValue<int>() < 304);
        Assert.InRange(train["trained_tokens"]!.GetValue<long>(), 1, train["tokens"]!.GetValue<long>() - 1);
    }

    [Fact]
    public void Generate_chat_renders_system_and_user_turns_with_the_generation_prompt()
    {
        var result = LmTuneProcess.Run("generate", "--model", "tiny-llama", "--chat", "--chat-template", Template, "--system", "Be brief.",
            "What is 2 plus 3?", "--max-new-tokens", "3", "--json");
        Assert.True(result.ExitCode == 0, result.ToString());
        string rendered = "<|system|>\nBe brief.<|endoftext|>\n<|user|>\nWhat is 2 plus 3?<|endoftext|>\n<|assistant|>\n";
        Assert.Equal(rendered, result.Json["rendered_prompt"]!.GetValue<string>());
        Assert.True(result.Json["chat"]!.GetValue<bool>());
        // GPT-2's ids for the rendered text, the EOS token 50256 where the template writes it.
        int[] promptIds = result.Json["prompt_token_ids"]!.AsArray().Select(i => i!.GetValue<int>()).ToArray();
        Assert.Equal(2, promptIds.Count(id => id == 50256));
        Assert.Equal(rendered + result.Json["new_text"]!.GetValue<string>(), result.Json["generated_text"]!.GetValue<string>());

        var text = LmTuneProcess.Run("generate", "--model", "tiny-llama", "--chat", "--chat-template", Template, "--system", "Be brief.",
            "What is 2 plus 3?", "--max-new-tokens", "3");
        Assert.True(text.ExitCode == 0, text.ToString());
        Assert.Equal(result.Json["new_text"]!.GetValue<string>() + "\n", text.Stdout.Replace("\r\n", "\n"));
    }

    [Fact]
    public void Chat_errors_have_their_codes()
    {
        var noTemplate = LmTuneProcess.Run("generate", "--model", "tiny-llama", "--chat", "Hi");
        Assert.Equal(1, noTemplate.ExitCode);
        Assert.Contains("error LM0334:", noTemplate.Stderr);

        var missingFile = LmTuneProcess.Run("generate", "--model", "tiny-llama", "--chat", "--chat-template", "no-such-template.jinja", "Hi");
        Assert.Equal(1, missingFile.ExitCode);
        Assert.Contains("error LM0339:", missingFile.Stderr);

        using var work = new TempFolder();
        string data = work["pairs.jsonl"];
        File.WriteAllText(data, "{\"prompt\": \"2 + 2 =\", \"completion\": \" 4\"}\n");
        var conflict = LmTuneProcess.Run("data", "preview", "--model", "tiny-llama", "--train-file", data, "--validation-split-percentage", "0",
            "--assistant-only-loss");
        Assert.Equal(1, conflict.ExitCode);
        Assert.Contains("error LM0338:", conflict.Stderr);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void Training_on_the_sample_chat_with_packing_keeps_the_template_with_the_model()
    {
        using var work = new TempFolder();
        string output = work["run"];
        var train = LmTuneProcess.Run("train", "--model", "tiny-llama", "--train-file", SampleChat, "--chat-template", Template,
            "--packing", "--max-seq-length", "128", "--output-dir", output, "--max-steps", "4", "--per-device-train-batch-size", "2",
            "--learning-rate", "1e-3", "--logging-steps", "1", "--report-to", "none", "--save-strategy", "no", "--json");
        Assert.True(train.ExitCode == 0, train.ToString());
        Assert.Contains("packed (bfd) into 128 tokens", train.Stderr);
        // 320 conversations less the 5% validation rows, packed: far fewer sequences than conversations.
        Assert.InRange(train.Json["train_samples"]!.GetValue<int>(), 20, 150);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "tokenizer_config.json")))!;
        Assert.Equal(File.ReadAllText(Template), config["chat_template"]!.GetValue<string>());

        var chat = LmTuneProcess.Run("generate", "--model", output, "--chat", "What is 2 plus 3?", "--max-new-tokens", "4", "--json");
        Assert.True(chat.ExitCode == 0, chat.ToString());
        Assert.EndsWith("<|assistant|>\n", chat.Json["rendered_prompt"]!.GetValue<string>());
    }
}
