using System.Text.Json.Nodes;
using Lm.Runtime.Generation;
using Lm.Runtime.Models;
using TorchSharp;

namespace Lm.Runtime.Tests.Generation;

[Collection(TorchRandomCollection.Name)]
public sealed class GenerationConfigTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("lm-generation-config-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private static readonly long[] Prompt = [5, 42, 7, 99, 3];

    /// <summary>A tiny Llama saved with <paramref name="generationConfig"/> as its generation_config.json, loaded back.</summary>
    private LanguageModel SavedWith(string generationConfig, string name)
    {
        torch.manual_seed(11);
        using var model = new LlamaForCausalLM(new LlamaConfig
        {
            VocabSize = 101, HiddenWidth = 32, IntermediateSize = 48, NumHiddenLayers = 2, NumAttentionHeads = 4,
            NumKeyValueHeads = 2, MaxPositionEmbeddings = 64, InitializerRange = 0.2, EosTokenId = JsonValue.Create(100),
        });
        string folder = Path.Combine(root, name);
        PretrainedModel.Save(model, folder);
        File.WriteAllText(Path.Combine(folder, PretrainedModel.GenerationConfigFile), generationConfig);
        return PretrainedModel.Load(folder);
    }

    [Fact]
    public void Generation_stops_at_whichever_eos_id_of_the_files_list_comes_first()
    {
        using var model = SavedWith("{}", "free");
        var free = TextGenerator.Generate(model, Prompt, new GenerationOptions { MaxNewTokens = 10 }).NewTokenIds;
        long third = free[2], fifth = free[4];
        Assert.True(free.Take(4).All(t => t != fifth) && free.Take(2).All(t => t != third), string.Join(",", free));
        long unused = Enumerable.Range(0, 101).First(t => !free.Contains(t));

        using var either = SavedWith($$"""{"eos_token_id": [{{fifth}}, {{third}}], "max_new_tokens": 10}""", "either");
        var options = GenerationConfigReader.Read(either);
        Assert.Equal(new[] { fifth, third }, options.EosTokenIds);
        var stopped = TextGenerator.Generate(either, Prompt, options);
        Assert.Equal(free.Take(3), stopped.NewTokenIds);
        Assert.Equal(GenerationResult.StopEos, stopped.StopReason);

        using var second = SavedWith($$"""{"eos_token_id": [{{unused}}, {{fifth}}]}""", "second");
        var late = TextGenerator.Generate(second, Prompt, GenerationConfigReader.Read(second) with { MaxNewTokens = 10 });
        Assert.Equal(free.Take(5), late.NewTokenIds);

        // A single id (not a list) works the same; without the key, config.json's eos (100) is the one.
        using var single = SavedWith($$"""{"eos_token_id": {{third}}}""", "single");
        Assert.Equal(new[] { third }, GenerationConfigReader.Read(single).EosTokenIds);
        using var none = SavedWith("""{"do_sample": false}""", "none");
        Assert.Equal(new long[] { 100 }, GenerationConfigReader.Read(none).EosTokenIds);
    }

    [Fact]
    public void The_files_sampling_settings_and_lengths_become_the_defaults()
    {
        using var model = SavedWith("""
            {"do_sample": true, "temperature": 0.6, "top_k": 0, "top_p": 0.9, "repetition_penalty": 1.2, "max_new_tokens": 7,
             "max_length": 99, "pad_token_id": 3, "bos_token_id": 1, "eos_token_id": [2, 4]}
            """, "sampling");
        var options = GenerationConfigReader.Read(model);
        Assert.True(options.DoSample);
        Assert.Equal(0.6, options.Temperature);
        Assert.Equal(0, options.TopK);
        Assert.Equal(0.9, options.TopP);
        Assert.Equal(1.2, options.RepetitionPenalty);
        // HF: max_new_tokens wins over max_length.
        Assert.Equal(7, options.MaxNewTokens);
        Assert.Null(options.MaxLength);
        Assert.Equal(3, options.PadTokenId);

        using var lengthOnly = SavedWith("""{"max_length": 9, "top_k": null, "temperature": null}""", "length");
        var fromLength = GenerationConfigReader.Read(lengthOnly);
        Assert.Equal(9, fromLength.MaxLength);
        // null is HF's None: no top-k warper, no temperature warper.
        Assert.Equal(0, fromLength.TopK);
        Assert.Equal(1.0, fromLength.Temperature);
        Assert.False(fromLength.DoSample);
        // max_length 9 after a 5-token prompt leaves 4 new tokens; with no pad id the first eos id pads.
        var result = TextGenerator.Generate(lengthOnly, Prompt, fromLength with { EosTokenIds = [] });
        Assert.Equal(4, result.NewTokenIds.Count);
        Assert.Equal(GenerationResult.StopMaxLength, result.StopReason);
        Assert.Equal(100L, fromLength.EffectivePadTokenId);
    }

    [Fact]
    public void Save_writes_only_the_values_that_differ_from_hfs_defaults_sorted_with_this_version()
    {
        using var model = SavedWith("""
            {"do_sample": true, "top_k": 50, "temperature": 0.7, "top_p": 1, "num_beams": 1, "max_new_tokens": null,
             "eos_token_id": [5, 6], "bos_token_id": 1, "pad_token_id": null, "custom_key": "kept", "_from_model_config": false,
             "transformers_version": "4.40.0"}
            """, "diff");
        string folder = Path.Combine(root, "diff-saved");
        PretrainedModel.Save(model, folder);
        Assert.Equal("""
            {
              "bos_token_id": 1,
              "custom_key": "kept",
              "do_sample": true,
              "eos_token_id": [
                5,
                6
              ],
              "temperature": 0.7,
              "transformers_version": "4.46.3"
            }

            """.Replace("\r\n", "\n"), File.ReadAllText(Path.Combine(folder, PretrainedModel.GenerationConfigFile)));
    }

    [Fact]
    public void A_model_without_the_file_writes_what_from_model_config_gives()
    {
        torch.manual_seed(3);
        using var model = new LlamaForCausalLM(new LlamaConfig
        {
            VocabSize = 101, HiddenWidth = 32, IntermediateSize = 48, NumHiddenLayers = 1, NumAttentionHeads = 4,
            NumKeyValueHeads = 2, MaxPositionEmbeddings = 64, BosTokenId = 1, EosTokenId = new JsonArray(2, 7), PadTokenId = 0,
        });
        string folder = Path.Combine(root, "from-config");
        PretrainedModel.Save(model, folder);
        Assert.Equal("""
            {
              "_from_model_config": true,
              "bos_token_id": 1,
              "eos_token_id": [
                2,
                7
              ],
              "pad_token_id": 0,
              "transformers_version": "4.46.3"
            }

            """.Replace("\r\n", "\n"), File.ReadAllText(Path.Combine(folder, PretrainedModel.GenerationConfigFile)));
        var options = GenerationConfigReader.Read(model);
        Assert.Equal(new long[] { 2, 7 }, options.EosTokenIds);
        Assert.Equal(0, options.PadTokenId);
    }
}
