using System;
using System.Collections.Generic;
using System.Linq;

namespace Lm.Schema
{
    /// <summary>
    /// What every front end knows about an architecture lm-tune implements, compiled into Lm.Runtime, Lm.Generators
    /// and Lm.Tasks (none of which can load another): Hugging Face's <c>model_type</c> and model class, the objective
    /// it trains with, the tokenizer class its config implies, lm-tune's preset names and the hub ids the compile-time
    /// checks recognise. The runtime's registration (<c>Lm.Runtime.Models.ModelArchitectures</c>) adds the config
    /// type, the model factory, the presets' values, the built-in vocabulary and the checkpoint key rules; a test
    /// asserts both agree.
    /// </summary>
    internal static class ArchitectureTable
    {
        public static readonly IReadOnlyList<ArchitectureRow> Rows = new[]
        {
            new ArchitectureRow("gpt2", "GPT2LMHeadModel", "clm", "GPT2Tokenizer",
                presets: new[] { "gpt2", "distilgpt2", "tiny-gpt2" },
                hubIds: new[] { "gpt2-medium", "gpt2-large", "gpt2-xl", "openai-community/gpt2", "distilbert/distilgpt2" }),
            new ArchitectureRow("roberta", "RobertaForMaskedLM", "mlm", "RobertaTokenizer",
                presets: new[] { "roberta-base", "distilroberta-base", "tiny-roberta" },
                hubIds: new[] { "roberta-large", "FacebookAI/roberta-base", "distilbert/distilroberta-base" }),
            new ArchitectureRow("bert", "BertForMaskedLM", "mlm", "BertTokenizer",
                presets: new[] { "bert-base-uncased", "tiny-bert" },
                hubIds: new[] { "bert-base-cased", "bert-large-uncased", "bert-large-cased", "google-bert/bert-base-uncased", "google-bert/bert-base-cased" }),
            // The Llama family's classes (transformers' TOKENIZER_MAPPING_NAMES: Mistral reuses Llama's) fill a partial
            // tokenizer_config.json and name the converter of a SentencePiece tokenizer.model.
            new ArchitectureRow("llama", "LlamaForCausalLM", "clm", "LlamaTokenizer",
                presets: new[] { "tiny-llama", "smollm2-135m", "llama-3.2-1b" },
                hubIds: new[] { "HuggingFaceTB/SmolLM2-135M", "HuggingFaceTB/SmolLM2-360M", "HuggingFaceTB/SmolLM2-1.7B", "meta-llama/Llama-3.2-1B", "TinyLlama/TinyLlama-1.1B-Chat-v1.0" }),
            new ArchitectureRow("qwen2", "Qwen2ForCausalLM", "clm", "Qwen2Tokenizer",
                presets: new[] { "tiny-qwen2", "qwen2.5-0.5b" },
                hubIds: new[] { "Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-1.5B" }),
            new ArchitectureRow("mistral", "MistralForCausalLM", "clm", "LlamaTokenizer",
                presets: new string[0],
                hubIds: new[] { "mistralai/Mistral-7B-v0.1" }),
        };

        /// <summary>The <c>model_type</c> values lm-tune implements, in the table's order.</summary>
        public static readonly IReadOnlyList<string> ModelTypes = Rows.Select(r => r.ModelType).ToArray();

        /// <summary>The row of a <c>model_type</c>, or null.</summary>
        public static ArchitectureRow? Find(string? modelType) =>
            modelType is null ? null : Rows.FirstOrDefault(r => string.Equals(r.ModelType, modelType, StringComparison.Ordinal));

        /// <summary>The row whose preset or known hub id is <paramref name="name"/> (case-insensitive), or null.</summary>
        public static ArchitectureRow? FindByModelName(string? name) =>
            name is null ? null : Rows.FirstOrDefault(r => r.Presets.Concat(r.HubIds).Any(n => string.Equals(n, name, StringComparison.OrdinalIgnoreCase)));
    }

    /// <summary>One architecture: its Hugging Face names, objective and the model names that stand for it.</summary>
    internal sealed class ArchitectureRow
    {
        public ArchitectureRow(string modelType, string architecture, string objective, string? tokenizerClass,
            IReadOnlyList<string> presets, IReadOnlyList<string> hubIds)
        {
            ModelType = modelType;
            Architecture = architecture;
            Objective = objective;
            TokenizerClass = tokenizerClass;
            Presets = presets;
            HubIds = hubIds;
        }

        /// <summary>HF's <c>model_type</c> in config.json.</summary>
        public string ModelType { get; }

        /// <summary>HF's language-model class, written to config.json's <c>architectures</c>.</summary>
        public string Architecture { get; }

        /// <summary><c>clm</c> or <c>mlm</c>: what a model of this type trains with unless the job says otherwise.</summary>
        public string Objective { get; }

        /// <summary>The tokenizer class a config.json of this type implies when tokenizer_config.json names none.</summary>
        public string? TokenizerClass { get; }

        /// <summary>lm-tune's preset names (<c>lm-tune init NAME</c>, <c>--model tiny-gpt2</c>).</summary>
        public IReadOnlyList<string> Presets { get; }

        /// <summary>Hub ids (and hub names that are not presets) the compile-time checks know as this architecture.</summary>
        public IReadOnlyList<string> HubIds { get; }
    }
}
