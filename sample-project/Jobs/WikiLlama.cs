using Lm.Runtime.Configuration;

namespace SampleProject.Jobs;

/// <summary>
/// The same causal language modelling with today's decoder: a Llama (RMSNorm, rotary positions, grouped-query
/// attention, SiLU-gated MLP) 2 layers deep and 64 wide, trained from scratch with GPT-2's vocabulary. Its 50,257-row
/// embedding and untied head make each step slow on a CPU, so the job is kept to a few short steps: enough to see
/// the loss move, a check that the family trains end to end.
/// </summary>
/// <remarks>
/// A published small model fine-tunes the same way; its tokenizer (tokenizer.json, or a SentencePiece
/// tokenizer.model) comes from the hub folder:
/// <code>
/// [FineTuneJob("wiki-smollm2", Model = "HuggingFaceTB/SmolLM2-135M")]
/// [TextDataset(BlockSize = 512)]
/// [Training(NumTrainEpochs = 1, LearningRate = 5e-5, Bf16 = true)]
/// </code>
/// </remarks>
[FineTuneJob("wiki-llama", Model = "tiny-llama")]
[TextDataset(BlockSize = 32, MaxTrainSamples = 64, MaxEvalSamples = 16)]
[Training(MaxSteps = 10, PerDeviceTrainBatchSize = 4, PerDeviceEvalBatchSize = 8, LearningRate = 1e-3, WarmupSteps = 2,
    LoggingSteps = 5, Seed = 42)]
public partial class WikiLlama
{
}
