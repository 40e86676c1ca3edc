using System;
using System.Collections.Generic;
using System.Linq;

namespace Lm.Schema
{
    /// <summary>
    /// The attribute names of each architecture's linear layers, the names PEFT's <c>target_modules</c> match: what the
    /// generator checks <c>LoraTargetModules</c> against at compile time (it cannot build a model). A runtime test
    /// compares the table with the modules the runtime's model files build. <c>lm_head</c> is the Llama family's untied head.
    /// </summary>
    internal static class LinearModules
    {
        private static readonly string[] Gpt2 = { "c_attn", "c_proj", "c_fc" };
        private static readonly string[] Encoder = { "query", "key", "value", "dense" };
        private static readonly string[] Llama = { "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head" };

        /// <summary>The linear-layer names of <paramref name="modelType"/>; empty for a type lm-tune does not build.</summary>
        public static IReadOnlyList<string> ForModelType(string modelType)
        {
            switch (modelType)
            {
                case "gpt2": return Gpt2;
                case "bert":
                case "roberta": return Encoder;
                case "llama":
                case "qwen2":
                case "mistral": return Llama;
                default: return Array.Empty<string>();
            }
        }

        /// <summary>The names of every architecture lm-tune builds, each once.</summary>
        public static readonly IReadOnlyList<string> Any = Gpt2.Concat(Encoder).Concat(Llama).Distinct().ToArray();
    }
}
