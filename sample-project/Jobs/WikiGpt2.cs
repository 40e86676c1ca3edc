using Lm.Runtime.Configuration;

namespace SampleProject.Jobs;

/// <summary>
/// Causal language modelling on WikiText-2, as the Hugging Face tutorial's run_clm.py example. The preset is a GPT-2
/// 2 layers deep and 64 wide with GPT-2's vocabulary, trained from scratch: a minute or two on two CPU cores, enough
/// to see the loss fall, not to write good English.
/// </summary>
/// <remarks>
/// The tutorial's version fine-tunes distilgpt2 (downloaded into the Hugging Face cache on the first build):
/// <code>
/// [FineTuneJob("wiki-gpt2", Model = "distilgpt2")]
/// [TextDataset(BlockSize = 128)]
/// [Training(NumTrainEpochs = 3, LearningRate = 2e-5, WeightDecay = 0.01, EvalStrategy = "epoch")]
/// </code>
/// </remarks>
[FineTuneJob("wiki-gpt2", Model = "tiny-gpt2")]
[TextDataset(BlockSize = 64, MaxEvalSamples = 64)]
[Training(MaxSteps = 100, PerDeviceTrainBatchSize = 8, PerDeviceEvalBatchSize = 8, LearningRate = 1e-3, WarmupSteps = 10,
    LoggingSteps = 10, Seed = 42)]
public partial class WikiGpt2
{
}
