namespace Lm.Generators.Tests;

/// <summary>Representative config classes, as users write them.</summary>
public static class Samples
{
    /// <summary>The tutorial's causal LM job, everything in the class.</summary>
    public const string WikiGpt2 = """
        using Lm.Runtime.Configuration;

        namespace Sample;

        [FineTuneJob("wiki-gpt2", Model = "tiny-gpt2", Objective = "clm")]
        [TextDataset(TrainFile = "data/train.txt", ValidationFile = "data/validation.txt", BlockSize = 128)]
        [Training(LearningRate = 2e-5, WeightDecay = 0.01, NumTrainEpochs = 1, PerDeviceTrainBatchSize = 4,
                  EvalStrategy = "epoch", LrSchedulerType = "cosine", LrSchedulerKwargs = "num_cycles=0.5")]
        public partial class WikiGpt2
        {
        }
        """;

    /// <summary>A masked LM job nested in a static class, with data options and a culture-sensitive number.</summary>
    public const string NestedRoberta = """
        using Lm.Runtime.Configuration;

        namespace Company.Models
        {
            public static partial class Jobs
            {
                [FineTuneJob("wiki-roberta", Model = "roberta-base", Device = "cpu")]
                [TextDataset(TrainFile = "data\\train.csv", TextColumn = "body \"quoted\"", MlmProbability = 0.2, LineByLine = true, MaxSeqLength = 64)]
                [Training(Seed = 7, Bf16 = true, ReportTo = "none", WarmupRatio = 0.1, SaveTotalLimit = 2)]
                internal sealed partial class WikiRoberta
                {
                }
            }
        }
        """;

    /// <summary>A class in the global namespace that names only the job; its item supplies the rest.</summary>
    public const string ItemConfigured = """
        using Lm.Runtime.Configuration;

        [FineTuneJob("tiny")]
        [Training(MaxSteps = 20)]
        partial class TinyJob
        {
        }
        """;

    public static readonly TestItem TinyItem = new("tiny",
        ("Config", "TinyJob"), ("Model", "tiny-gpt2"), ("TrainFile", "data/train.txt"), ("LearningRate", "1e-4"), ("KeepLinebreaks", "False"));
}
