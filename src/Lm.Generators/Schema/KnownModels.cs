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
        /// Model names whose family is known, with the objective that family trains (gpt2 → clm; roberta, bert →
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
        }.ToImmutableDictionary(StringComparer.OrdinalIgnoreCase);

        /// <summary>The families by <c>model_type</c>.</summary>
        public static readonly ImmutableDictionary<string, ModelFamily> ByModelType = new Dictionary<string, ModelFamily>(StringComparer.Ordinal)
        {
            ["gpt2"] = ModelFamily.Gpt2,
            ["roberta"] = ModelFamily.Roberta,
            ["bert"] = ModelFamily.Bert,
        }.ToImmutableDictionary(StringComparer.Ordinal);
    }

    /// <summary>A model architecture and the objective it is trained with.</summary>
    internal sealed class ModelFamily
    {
        public static readonly ModelFamily Gpt2 = new ModelFamily("gpt2", "clm");
        public static readonly ModelFamily Roberta = new ModelFamily("roberta", "mlm");
        public static readonly ModelFamily Bert = new ModelFamily("bert", "mlm");

        private ModelFamily(string modelType, string objective)
        {
            ModelType = modelType;
            Objective = objective;
        }

        public string ModelType { get; }
        public string Objective { get; }
    }
}
