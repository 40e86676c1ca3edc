using Lm.Runtime.Data;
using Lm.Runtime.Data.Chat;
using Lm.Runtime.Errors;
using Lm.Runtime.Tests.Tokenization;
using Lm.Runtime.Tests.Tokenization.Chat;
using Lm.Runtime.Tokenization;

namespace Lm.Runtime.Tests.Data.Chat;

public class SupervisedDataTests
{
    private static readonly Lazy<LmTokenizer> Tokenizer = new(() => ChatTokenizers.ChatMl(PublishedChatTemplates.SmolLm2));

    private static SupervisedExample Example(params int[] ids) => new(ids, ids.Select(i => i * 10).ToArray());

    [Fact]
    public void Bfd_packing_matches_trls_documented_example()
    {
        // pack_dataset's docstring: [[1,2,3,4,5],[6,7],[8,9,10],[11]] at seq_length 4 →
        // [[1,2,3,4],[8,9,10,11],[6,7]] with seq_lengths [[4],[3,1],[2]].
        var packed = SequencePacker.Pack([Example(1, 2, 3, 4, 5), Example(6, 7), Example(8, 9, 10), Example(11)], 4, "bfd");
        Assert.Equal([[1, 2, 3, 4], [8, 9, 10, 11], [6, 7]], packed.Select(p => p.InputIds));
        Assert.Equal([[10, 20, 30, 40], [80, 90, 100, 110], [60, 70]], packed.Select(p => p.Labels));
        Assert.Equal([[4], [3, 1], [2]], packed.Select(p => p.SequenceLengths));
    }

    [Fact]
    public void Wrapped_packing_cuts_the_concatenation_and_keeps_the_rest()
    {
        var packed = SequencePacker.Pack([Example(1, 2, 3, 4, 5), Example(6, 7), Example(8, 9, 10), Example(11)], 4, "wrapped");
        Assert.Equal([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11]], packed.Select(p => p.InputIds));
        Assert.All(packed, p => Assert.Empty(p.SequenceLengths));
    }

    [Fact]
    public void Bfd_fills_the_tightest_sequence_and_packs_each_thousand_examples_apart()
    {
        // Lengths 5, 4, 3, 3, 2, 1 into 8: 5 opens A (room 3), 4 opens B (room 4), 3 → A (tightest fit, room 0),
        // 3 → B (room 1), 2 opens C (room 6), 1 → B (room 0).
        var examples = new[] { 5, 4, 3, 3, 2, 1 }.Select((n, k) => Example(Enumerable.Repeat(k + 1, n).ToArray())).ToList();
        var packed = SequencePacker.Pack(examples, 8, "bfd");
        Assert.Equal([[5, 3], [4, 3, 1], [2]], packed.Select(p => p.SequenceLengths));
        Assert.Equal([1, 1, 1, 1, 1, 3, 3, 3], packed[0].InputIds);

        // 1001 one-token examples: the first thousand fill 125 sequences of 8, the last one is packed on its own.
        var many = Enumerable.Range(0, 1001).Select(i => Example(i)).ToList();
        var chunks = SequencePacker.Pack(many, 8, "bfd");
        Assert.Equal(126, chunks.Count);
        Assert.Equal([1000], chunks[^1].InputIds);
    }

    [Fact]
    public void Packing_keeps_every_label_a_causal_lm_trains_on()
    {
        var rows = Enumerable.Range(0, 12).Select(i => new SupervisedRow($"row {i}")
        {
            Messages = [new("user", $"Question number {i}?"), new("assistant", string.Concat(Enumerable.Repeat($"Answer {i}. ", 1 + i % 4)))],
        }).ToList();
        var tokenizer = new SupervisedTokenizer(Tokenizer.Value, Lm.Runtime.Tokenization.Chat.ChatTemplate.For(Tokenizer.Value), true, false);
        var examples = rows.Select(tokenizer.Tokenize).ToList();
        var packed = SupervisedData.Prepare(rows, tokenizer, new DataArguments { Packing = true }, 160, 0, "train", "test", SupervisedFormat.Messages);
        Assert.True(packed.Count < rows.Count);

        // Every example appears whole in one packed row; its labels are kept except the first (TRL masks position 0;
        // a causal LM never predicts an example's first token from the example anyway).
        var found = new List<int[]>();
        for (int s = 0; s < packed.Count; s++)
        {
            var sequence = packed[s];
            int[] labels = packed.CollatedLabels(s);
            int offset = 0;
            foreach (int length in sequence.SequenceLengths)
            {
                int[] ids = sequence.InputIds[offset..(offset + length)];
                var original = examples.Single(e => e.InputIds.SequenceEqual(ids));
                Assert.Equal(-100, labels[offset]);
                Assert.Equal(original.Labels[1..], labels[(offset + 1)..(offset + length)]);
                found.Add(ids);
                offset += length;
            }
        }
        Assert.Equal(examples.Count, found.Count);
        Assert.Equal(examples.Sum(e => e.Labels.Skip(1).Count(l => l != -100)),
            Enumerable.Range(0, packed.Count).Sum(s => packed.CollatedLabels(s).Count(l => l != -100)));
    }

    [Fact]
    public void Truncation_keeps_the_start_and_drops_examples_left_without_a_trained_token()
    {
        var tokenizer = new SupervisedTokenizer(Tokenizer.Value, Lm.Runtime.Tokenization.Chat.ChatTemplate.For(Tokenizer.Value), true, false);
        var shortRow = new SupervisedRow("short") { Messages = [new("user", "Hi"), new("assistant", "Hello there friend")] };
        var longRow = new SupervisedRow("long") { Messages = [new("user", string.Concat(Enumerable.Repeat("word ", 200))), new("assistant", "Ok")] };
        var full = tokenizer.Tokenize(shortRow);
        int cut = full.InputIds.Length - 2;
        var dataset = SupervisedData.Prepare([shortRow, longRow], tokenizer, new DataArguments(), cut, 0, "train", "test", SupervisedFormat.Messages);
        Assert.Equal(1, dataset.Count);
        Assert.Equal(full.InputIds[..cut], dataset[0].InputIds);
        Assert.Equal(full.Labels[..cut], dataset[0].Labels);
        Assert.Equal(1, dataset.Stats.DroppedExamples);
    }

    [Fact]
    public void Collation_pads_right_with_the_pad_id_and_labels_padding_minus_100()
    {
        var sequences = new List<PackedSequence> { new([5, 6, 7], [-100, 6, 7], [3]), new([8], [8], [1]) };
        var stats = new SupervisedStats("train", "t", "messages", 2, 2, 2, 4, 3, 0, 8, Packed: false);
        var dataset = new SupervisedDataset(sequences, padTokenId: 99, padToMultipleOf: 4, stats);
        using var batch = dataset.Collate([0, 1]);
        Assert.Equal(new long[] { 5, 6, 7, 99, 8, 99, 99, 99 }, batch.InputIds.data<long>().ToArray());
        Assert.Equal(new long[] { -100, 6, 7, -100, 8, -100, -100, -100 }, batch.Labels.data<long>().ToArray());
        Assert.Equal(new long[] { 1, 1, 1, 0, 1, 0, 0, 0 }, batch.AttentionMask.data<long>().ToArray());
    }

    [Fact]
    public void Formats_are_detected_from_the_first_row_as_trl_does()
    {
        using var folder = new TemporaryFolder();
        string Write(string name, string text)
        {
            string path = Path.Combine(folder.Path, name);
            File.WriteAllText(path, text);
            return path;
        }
        string messages = Write("m.jsonl", "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}\n");
        string shareGpt = Write("s.json", "[{\"conversations\": [{\"from\": \"human\", \"value\": \"Hi\"}, {\"from\": \"gpt\", \"value\": \"Yo\"}]}]");
        string promptCompletion = Write("p.jsonl", "{\"prompt\": \"a\", \"completion\": \"b\"}\n");
        string text = Write("t.jsonl", "{\"text\": \"plain\"}\n");
        Assert.Equal(SupervisedFormat.Messages, SupervisedRows.Detect(messages, "auto", null));
        Assert.Equal(SupervisedFormat.Messages, SupervisedRows.Detect(shareGpt, "auto", null));
        Assert.Equal(SupervisedFormat.PromptCompletion, SupervisedRows.Detect(promptCompletion, "auto", null));
        Assert.Null(SupervisedRows.Detect(text, "auto", null));
        Assert.Null(SupervisedRows.Detect(messages, "text", null));
        Assert.Null(SupervisedRows.Detect(promptCompletion, "auto", "prompt"));
        Assert.Null(SupervisedRows.Detect(Write("t.txt", "plain\n"), "auto", null));

        var turns = SupervisedRows.Read(shareGpt, SupervisedFormat.Messages)[0].Messages!;
        Assert.Equal([new("user", "Hi"), new("assistant", "Yo")], turns);
    }

    [Fact]
    public void A_malformed_row_is_LM0335_naming_its_line()
    {
        using var folder = new TemporaryFolder();
        string path = Path.Combine(folder.Path, "chat.jsonl");
        File.WriteAllText(path, "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}\n\n{\"messages\": [{\"role\": \"user\"}]}\n");
        var error = Assert.Throws<LmException>(() => SupervisedRows.Read(path, SupervisedFormat.Messages));
        Assert.Equal(ErrorCodes.ChatRowInvalid, error.Code);
        Assert.Equal(3, error.Line);
        Assert.Contains("messages[0] has no string 'content'", error.Message);
    }

    [Fact]
    public async Task Chat_rows_from_a_text_file_or_conversations_from_parquet_are_LM0336_and_flat_parquet_rows_read()
    {
        using var folder = new TemporaryFolder();
        string text = Path.Combine(folder.Path, "chat.txt");
        File.WriteAllText(text, "hello\n");
        Assert.Equal(ErrorCodes.ChatFormatUnknown, Assert.Throws<LmException>(() => SupervisedRows.Read(text, SupervisedFormat.Messages)).Code);
        string parquet = Path.Combine(folder.Path, "chat.parquet");
        await ParquetFiles.Write(parquet, ("prompt", [["2 + 2 =", "3 + 3 ="]]), ("completion", [[" 4", " 6"]]));
        Assert.Equal(ErrorCodes.ChatFormatUnknown, Assert.Throws<LmException>(() => SupervisedRows.Read(parquet, SupervisedFormat.Messages)).Code);
        Assert.Equal(SupervisedFormat.PromptCompletion, SupervisedRows.Detect(parquet, "auto", null));
        var rows = SupervisedRows.Read(parquet, SupervisedFormat.PromptCompletion);
        Assert.Equal("3 + 3 =", rows[1].PromptText);
        Assert.Equal(" 6", rows[1].CompletionText);
    }

    [Fact]
    public void Assistant_only_loss_on_text_rows_is_LM0338()
    {
        var row = new SupervisedRow("x") { PromptText = "a", CompletionText = "b" };
        var error = Assert.Throws<LmException>(() => SupervisedData.CreateTokenizer(new DataArguments { AssistantOnlyLoss = true }, SupervisedFormat.PromptCompletion, Tokenizer.Value, row));
        Assert.Equal(ErrorCodes.ChatOptionConflict, error.Code);
        var defaults = SupervisedData.CreateTokenizer(new DataArguments(), SupervisedFormat.PromptCompletion, Tokenizer.Value, row);
        Assert.False(defaults.AssistantOnlyLoss);
        Assert.True(defaults.CompletionOnlyLoss);
        var chat = SupervisedData.CreateTokenizer(new DataArguments(), SupervisedFormat.Messages, Tokenizer.Value,
            new SupervisedRow("x") { Messages = [new("user", "a")] });
        Assert.True(chat.AssistantOnlyLoss);
        Assert.False(chat.CompletionOnlyLoss);
    }

    [Fact]
    public void Tokenizers_keep_their_chat_template_through_save_and_a_jinja_file_wins()
    {
        using var folder = new TemporaryFolder();
        Tokenizer.Value.Save(folder.Path);
        Assert.Equal(PublishedChatTemplates.SmolLm2, LmTokenizer.FromPretrained(folder.Path).ChatTemplate);
        File.WriteAllText(Path.Combine(folder.Path, "chat_template.jinja"), PublishedChatTemplates.Phi3);
        Assert.Equal(PublishedChatTemplates.Phi3, LmTokenizer.FromPretrained(folder.Path).ChatTemplate);
    }
}
