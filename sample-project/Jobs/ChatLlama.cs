using Lm.Runtime.Configuration;

namespace SampleProject.Jobs;

/// <summary>
/// Chat fine-tuning with a LoRA adapter, as most fine-tuning is done today: the bundled conversations
/// (data/chat.jsonl) rendered with data/chat_template.jinja, loss on the assistant's replies only, and rank-8
/// adapters on every linear layer of the tiny Llama while its own weights stay frozen. The build leaves PEFT's
/// adapter_config.json and adapter_model.safetensors; <c>ChatLlama.Artifacts.LoadModel()</c> rebuilds the base
/// (the tiny-llama preset, drawn with the run's seed) and applies the adapter. Kept to a few steps: a check that
/// LoRA and chat data train end to end in the build, not a useful assistant.
/// </summary>
/// <remarks>
/// A published instruct model fine-tunes the same way with its own template from its tokenizer_config.json:
/// <code>
/// [FineTuneJob("chat-smollm2", Model = "HuggingFaceTB/SmolLM2-135M-Instruct")]
/// [ChatDataset(TrainFile = "data/chat.jsonl", MaxSeqLength = 512)]
/// [Lora(R = 16, Alpha = 32, TargetModules = "all-linear")]
/// </code>
/// </remarks>
[FineTuneJob("chat-llama", Model = "tiny-llama")]
[ChatDataset(TrainFile = "data/chat.jsonl", ChatTemplatePath = "data/chat_template.jinja", DatasetFormat = "messages",
    AssistantOnlyLoss = true, MaxSeqLength = 64, MaxTrainSamples = 32, MaxEvalSamples = 8)]
[Lora(R = 8, Alpha = 16, Dropout = 0.05, TargetModules = "all-linear")]
[Training(MaxSteps = 4, PerDeviceTrainBatchSize = 4, PerDeviceEvalBatchSize = 8, LearningRate = 2e-3, LoggingSteps = 2,
    DoEval = true, Seed = 42)]
public partial class ChatLlama
{
}
