using Lm.Runtime.Configuration;

namespace SampleProject.Jobs;

/// <summary>
/// Masked language modelling on WikiText-2, as the Hugging Face tutorial's run_mlm.py example: 15% of the tokens
/// masked. The preset is a RoBERTa 2 layers deep and 64 wide with RoBERTa's vocabulary, trained from scratch.
/// </summary>
/// <remarks>
/// The tutorial's version fine-tunes distilroberta-base:
/// <code>
/// [FineTuneJob("wiki-roberta", Model = "distilroberta-base")]
/// [TextDataset(MaxSeqLength = 128, MlmProbability = 0.15)]
/// [Training(NumTrainEpochs = 3, LearningRate = 2e-5, WeightDecay = 0.01, EvalStrategy = "epoch")]
/// </code>
/// </remarks>
[FineTuneJob("wiki-roberta", Model = "tiny-roberta")]
[TextDataset(MaxSeqLength = 64, MaxEvalSamples = 64, MlmProbability = 0.15)]
[Training(MaxSteps = 100, PerDeviceTrainBatchSize = 8, PerDeviceEvalBatchSize = 8, LearningRate = 1e-3, WarmupSteps = 10,
    LoggingSteps = 10, Seed = 42)]
public partial class WikiRoberta
{
}
