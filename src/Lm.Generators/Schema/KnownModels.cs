using System;
using System.Collections.Generic;
using System.Collections.Immutable;

namespace Lm.Generators.Schema
{
    /// <summary>
    /// The models whose family the generator knows, to check an objective against its model at compile time. The
    /// generator cannot load Lm.Runtime, so this repeats the runtime's presets and model types (a test compares them).
    /// </summary>
    internal static class KnownModels
    {
        /// <summary>
        /// Model names whose family is known, with the objective that family trains (gpt2, llama, qwen2, mistral → clm; roberta, bert →
        /// mlm): lm-tune's presets and the Hugging Face hub ids of the tutorial's models.
        /// </summary>
        public static readonly ImmutableDictionary<string, ModelFamily> ByName = new Dictionary<string, ModelFamily>(StringComparer.OrdinalIgnoreCase)
        {
            ["tiny-gpt2"] = ModelFamily.Gpt2,
            ["gpt2"] = ModelFamily.Gpt2,
            ["gpt2-medium"] = ModelFamily.Gpt2,
            ["gpt2-large"] = ModelFamily.Gpt2,
            ["gpt2-xl"] = ModelFamily.Gpt2,
            ["distilgpt2"] = ModelFamily.Gpt2,
            ["openai-community/gpt2"] = ModelFamily.Gpt2,
            ["distilbert/distilgpt2"] = ModelFamily.Gpt2,
            ["tiny-roberta"] = ModelFamily.Roberta,
            ["roberta-base"] = ModelFamily.Roberta,
            ["roberta-large"] = ModelFamily.Roberta,
            ["distilroberta-base"] = ModelFamily.Roberta,
            ["FacebookAI/roberta-base"] = ModelFamily.Roberta,
            ["distilbert/distilroberta-base"] = ModelFamily.Roberta,
            ["tiny-bert"] = ModelFamily.Bert,
            ["bert-base-uncased"] = ModelFamily.Bert,
            ["bert-base-cased"] = ModelFamily.Bert,
            ["bert-large-uncased"] = ModelFamily.Bert,
            ["bert-large-cased"] = ModelFamily.Bert,
            ["google-bert/bert-base-uncased"] = ModelFamily.Bert,
            ["google-bert/bert-base-cased"] = ModelFamily.Bert,
            ["tiny-llama"] = ModelFamily.Llama,
            ["smollm2-135m"] = ModelFamily.Llama,
            ["llama-3.2-1b"] = ModelFamily.Llama,
            ["HuggingFaceTB/SmolLM2-135M"] = ModelFamily.Llama,
            ["HuggingFaceTB/SmolLM2-360M"] = ModelFamily.Llama,
            ["HuggingFaceTB/SmolLM2-1.7B"] = ModelFamily.Llama,
            ["meta-llama/Llama-3.2-1B"] = ModelFamily.Llama,
            ["TinyLlama/TinyLlama-1.1B-Chat-v1.0"] = ModelFamily.Llama,
            ["tiny-qwen2"] = ModelFamily.Qwen2,
            ["qwen2.5-0.5b"] = ModelFamily.Qwen2,
            ["Qwen/Qwen2.5-0.5B"] = ModelFamily.Qwen2,
            ["Qwen/Qwen2.5-1.5B"] = ModelFamily.Qwen2,
            ["mistralai/Mistral-7B-v0.1"] = ModelFamily.Mistral,
        }.ToImmutableDictionary(StringComparer.OrdinalIgnoreCase);

        /// <summary>The families by <c>model_type</c>.</summary>
        public static readonly ImmutableDictionary<string, ModelFamily> ByModelType = new Dictionary<string, ModelFamily>(StringComparer.Ordinal)
        {
            ["gpt2"] = ModelFamily.Gpt2,
            ["roberta"] = ModelFamily.Roberta,
            ["bert"] = ModelFamily.Bert,
            ["llama"] = ModelFamily.Llama,
            ["qwen2"] = ModelFamily.Qwen2,
            ["mistral"] = ModelFamily.Mistral,
        }.ToImmutableDictionary(StringComparer.Ordinal);
    }

    /// <summary>A model architecture and the objective it is trained with.</summary>
    internal sealed class ModelFamily
    {
        public static readonly ModelFamily Gpt2 = new ModelFamily("gpt2", "clm");
        public static readonly ModelFamily Roberta = new ModelFamily("roberta", "mlm");
        public static readonly ModelFamily Bert = new ModelFamily("bert", "mlm");
        public static readonly ModelFamily Llama = new ModelFamily("llama", "clm");
        public static readonly ModelFamily Qwen2 = new ModelFamily("qwen2", "clm");
        public static readonly ModelFamily Mistral = new ModelFamily("mistral", "clm");

        private ModelFamily(string modelType, string objective)
        {
            ModelType = modelType;
            Objective = objective;
            LinearModules = Lm.Schema.LinearModules.ForModelType(modelType);
        }

        public string ModelType { get; }
        public string Objective { get; }

        /// <summary>The attribute names of the architecture's linear layers (LoRA's possible targets).</summary>
        public IReadOnlyList<string> LinearModules { get; }
    }
}
