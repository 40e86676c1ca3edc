using Lm.Runtime.Data;
using Lm.Runtime.Evaluation;
using Lm.Runtime.Models;
using Lm.Runtime.Tests.Data;
using Lm.Runtime.Tests.Training;
using Lm.Runtime.Training;

namespace Lm.Runtime.Tests.Evaluation;

/// <summary>
/// The tutorial on the bundled WikiText-2 sample, shrunk to seconds: a character-level tokenizer, 2-layer models,
/// blocks of 64. Training must lower the validation perplexity for both objectives.
/// </summary>
[Collection(TorchRandomCollection.Name)]
public class WikitextPerplexityTests
{
    private const int Vocab = 1000;

    [Fact]
    public void Training_a_tiny_gpt2_lowers_wikitext_perplexity()
    {
        using var scratch = new ScratchFolder();
        using var data = Prepare(scratch, DataObjective.Clm, addSpecialTokens: false);
        var encoder = new CharEncoder();
        using var model = LanguageModel.Create(new Gpt2Config
        {
            VocabSize = Vocab, NPositions = 64, NEmbd = 64, NLayer = 2, NHead = 2, ResidPdrop = 0, EmbdPdrop = 0, AttnPdrop = 0,
        }, seed: 1);
        var collator = new CausalLmCollator(encoder.PadTokenId);
        using var trainer = new Trainer(model, Args(scratch.Path), new DatasetBatches(data.Train!, collator),
            new DatasetBatches(data.Validation!, collator));

        double before = trainer.RunEvaluation()["perplexity"];
        trainer.Train();
        double after = trainer.RunEvaluation()["perplexity"];

        Assert.True(after < 0.5 * before, $"perplexity {before:F1} -> {after:F1}");
    }

    [Fact]
    public void Training_a_tiny_roberta_lowers_wikitext_perplexity_and_evaluation_masks_repeat()
    {
        using var scratch = new ScratchFolder();
        using var data = Prepare(scratch, DataObjective.Mlm, addSpecialTokens: true);
        var encoder = new CharEncoder(addSpecialTokens: true);
        using var model = LanguageModel.Create(new RobertaConfig
        {
            VocabSize = Vocab, HiddenWidth = 64, NumHiddenLayers = 2, NumAttentionHeads = 2, IntermediateSize = 128,
            MaxPositionEmbeddings = 80, PadTokenId = CharEncoder.Pad, BosTokenId = CharEncoder.Bos, EosTokenId = CharEncoder.Eos,
            HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0,
        }, seed: 1);
        var masking = new MaskingOptions { Seed = 42 };
        using var trainCollator = new MaskingCollator(encoder, masking);
        using var evalCollator = new MaskingCollator(encoder, masking);
        var args = Args(scratch.Path);
        args.LearningRate = 2e-3;
        using var trainer = new Trainer(model, args, new DatasetBatches(data.Train!, trainCollator),
            new DatasetBatches(data.Validation!, evalCollator));

        var first = trainer.RunEvaluation();
        var second = trainer.RunEvaluation();
        trainer.Train();
        double after = trainer.RunEvaluation()["perplexity"];

        Assert.Equal(first["eval_loss"], second["eval_loss"]);
        Assert.True(after < 0.5 * first["perplexity"], $"perplexity {first["perplexity"]:F1} -> {after:F1}");
    }

    private static TrainingArguments Args(string outputDir)
    {
        var args = TrainerFixtures.Args(outputDir, maxSteps: 80);
        args.PerDeviceTrainBatchSize = 8;
        args.PerDeviceEvalBatchSize = 16;
        args.LearningRate = 3e-3;
        args.WarmupSteps = 5;
        args.LoggingSteps = 20;
        return args;
    }

    private static PreparedData Prepare(ScratchFolder scratch, DataObjective objective, bool addSpecialTokens)
    {
        var args = new DataArguments
        {
            TrainFile = TestData.Corpus("wikitext-2-raw/sample/train.txt"),
            ValidationFile = TestData.Corpus("wikitext-2-raw/sample/validation.txt"),
            BlockSize = 64,
            MaxTrainSamples = 1600,
            MaxEvalSamples = 64,
        };
        return DataPipeline.Prepare(args, new CharEncoder(addSpecialTokens), objective,
            cacheRoot: Path.Combine(scratch.Path, "cache"));
    }
}
