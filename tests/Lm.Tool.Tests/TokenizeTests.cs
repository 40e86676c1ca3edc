namespace Lm.Tool.Tests;

/// <summary><c>lm-tune tokenize</c>: ids, tokens and decoded text as <c>tokenizer(text)</c> and <c>decode</c> give them.</summary>
public sealed class TokenizeTests
{
    /// <summary>
    /// A Llama 2 style tokenizer small enough to trace by hand: "▁" is prepended and spaces become "▁", BPE merges
    /// "▁ h" then "▁h i", "!" falls back to its byte token, LlamaTokenizerFast adds &lt;s&gt;.
    /// </summary>
    private const string LlamaStyleTokenizerJson = """
        {
          "version": "1.0", "truncation": null, "padding": null,
          "added_tokens": [
            {"id": 0, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
            {"id": 1, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
            {"id": 2, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}
          ],
          "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
          "pre_tokenizer": null,
          "post_processor": {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
          "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
          "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "continuing_subword_prefix": null, "end_of_word_suffix": null,
            "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
            "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "▁": 3, "h": 4, "i": 5, "▁h": 6, "▁hi": 7, "<0x21>": 8},
            "merges": [["▁", "h"], ["▁h", "i"]]}
        }
        """;

    private static TempFolder LlamaStyleFolder()
    {
        var folder = new TempFolder();
        File.WriteAllText(folder["tokenizer.json"], LlamaStyleTokenizerJson);
        File.WriteAllText(folder["tokenizer_config.json"],
            """{"tokenizer_class": "LlamaTokenizerFast", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "add_bos_token": true, "add_eos_token": false}""");
        return folder;
    }

    [Fact]
    public void Tokenize_json_gives_ids_tokens_and_decoded_text_of_a_tokenizer_json_folder()
    {
        using var folder = LlamaStyleFolder();
        var result = LmTuneProcess.Run("tokenize", "--model", folder.Path, "hi hi!", "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal([1, 7, 7, 8], result.Json["input_ids"]!.AsArray().Select(n => n!.GetValue<int>()));
        Assert.Equal(["<s>", "▁hi", "▁hi", "<0x21>"], result.Json["tokens"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal("<s> hi hi!", result.Json["decoded"]!.GetValue<string>());
    }

    [Fact]
    public void Tokenize_reads_a_file_and_can_leave_out_special_tokens()
    {
        using var folder = LlamaStyleFolder();
        File.WriteAllText(folder["text.txt"], "hi\nhi");

        // "\n" has neither a token nor a byte token: it is <unk>, and the next "h" starts without "▁".
        var result = LmTuneProcess.Run("tokenize", "--model", folder.Path, "--file", folder["text.txt"], "--add-special-tokens", "false", "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal([7, 0, 4, 5], result.Json["input_ids"]!.AsArray().Select(n => n!.GetValue<int>()));
    }

    [Fact]
    public void Tokenize_prints_gpt2_ids_for_a_preset_as_text()
    {
        var result = LmTuneProcess.Run("tokenize", "--model", "tiny-gpt2", "Hello world");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("input_ids: [15496, 995]", result.Stdout);
        Assert.Contains("\"Ġworld\"", result.Stdout);
        Assert.Contains("decoded:   \"Hello world\"", result.Stdout);
    }

    [Fact]
    public void Tokenize_without_text_or_file_is_LM0511()
    {
        var result = LmTuneProcess.Run("tokenize", "--model", "tiny-gpt2");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("LM0511", result.Stderr);
        Assert.Equal("", result.Stdout);
    }

    [Theory]
    [InlineData(null, new[] { 1, 7, 7, 8 })]
    [InlineData("""{"add_eos_token": true}""", new[] { 1, 7, 7, 8, 2 })]
    [InlineData("""{"legacy": false, "add_bos_token": false}""", new[] { 7, 7, 8 })]
    public void Tokenize_json_reads_a_folder_with_only_a_sentencepiece_model(string? tokenizerConfig, int[] ids)
    {
        // The same vocabulary as LlamaStyleTokenizerJson, as SentencePiece pieces: BPE merges come from the scores
        // ("▁h" above "▁hi"), "!" has no piece and falls back to <0x21>; config.json's model_type picks
        // LlamaTokenizer, whose defaults add <s> (and </s> with add_eos_token).
        using var folder = new TempFolder();
        (string Piece, float Score, int Type)[] pieces =
        [
            ("<unk>", 0, 2), ("<s>", 0, 3), ("</s>", 0, 3), ("▁", -3, 1), ("h", -4, 1), ("i", -5, 1), ("▁h", -1, 1), ("▁hi", -2, 1), ("<0x21>", 0, 6),
        ];
        var model = new List<byte>();
        foreach ((string piece, float score, int type) in pieces)
        {
            byte[] text = System.Text.Encoding.UTF8.GetBytes(piece);
            byte[] entry = [0x0A, (byte)text.Length, .. text, 0x15, .. BitConverter.GetBytes(score), 0x18, (byte)type];
            model.AddRange([0x0A, (byte)entry.Length, .. entry]);
        }

        // trainer_spec { model_type: BPE }
        model.AddRange([0x12, 0x02, 0x18, 0x02]);
        File.WriteAllBytes(folder["tokenizer.model"], model.ToArray());
        File.WriteAllText(folder["config.json"], """{"model_type": "llama"}""");
        if (tokenizerConfig is not null)
        {
            File.WriteAllText(folder["tokenizer_config.json"], tokenizerConfig);
        }

        var result = LmTuneProcess.Run("tokenize", "--model", folder.Path, "hi hi!", "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(ids, result.Json["input_ids"]!.AsArray().Select(n => n!.GetValue<int>()));
        Assert.Equal(ids.Select(id => pieces[id].Piece), result.Json["tokens"]!.AsArray().Select(n => n!.GetValue<string>()));
        string expected = (ids[0] == 1 ? "<s> " : " ") + "hi hi!" + (ids[^1] == 2 ? "</s>" : "");
        Assert.Equal(tokenizerConfig?.Contains("legacy", StringComparison.Ordinal) == true ? "hi hi!" : expected, result.Json["decoded"]!.GetValue<string>());
    }

    [Fact]
    public void Tokenize_json_on_a_partial_tokenizer_config_uses_llamas_default_special_tokens()
    {
        using var folder = new TempFolder();
        File.WriteAllText(folder["tokenizer.json"], LlamaStyleTokenizerJson);
        File.WriteAllText(folder["tokenizer_config.json"], """{"tokenizer_class": "LlamaTokenizerFast", "add_eos_token": true}""");

        var result = LmTuneProcess.Run("tokenize", "--model", folder.Path, "hi hi!", "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal([1, 7, 7, 8, 2], result.Json["input_ids"]!.AsArray().Select(n => n!.GetValue<int>()));
    }
}
