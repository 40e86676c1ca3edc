using Lm.Runtime.Configuration;
using Lm.Runtime.Generation;
using Lm.Runtime.Native;
using Lm.Runtime.Tokenization.Chat;
using SampleProject.Jobs;

// The models were fine-tuned by `dotnet build` (the <LanguageModelFineTune> items in sample-project.csproj); the
// generated Artifacts accessors find them next to this app, where CopyToOutputDirectory put them.
foreach (var job in new[] { WikiGpt2.Artifacts, WikiRoberta.Artifacts, WikiLlama.Artifacts, ChatLlama.Artifacts })
{
    if (!job.IsTrained)
    {
        Console.Error.WriteLine($"'{job.JobName}' has not been trained: build the project without -p:LmSkipFineTune=true.");
        return 1;
    }
}

TorchRuntime.EnsureLoaded();
Continue(WikiGpt2.Artifacts, " The tower is");
FillIn(WikiRoberta.Artifacts, "The tower is the tallest {0} in Paris.");
Continue(WikiLlama.Artifacts, " The tower is");
Reply(ChatLlama.Artifacts, "What is 2 plus 3?");
return 0;

static void Continue(JobArtifacts job, string prompt)
{
    PrintMetrics(job);
    using var model = job.LoadModel();
    model.eval();
    var tokenizer = job.LoadTokenizer();
    long[] promptIds = [.. tokenizer.Encode(prompt).Select(id => (long)id)];
    // Seeded top-k sampling: reproducible, and less repetitive than greedy search on a model trained for a minute.
    var options = new GenerationOptions
    {
        MaxNewTokens = 20,
        DoSample = true,
        TopK = 50,
        Seed = 42,
        EosTokenIds = tokenizer.EosTokenId is int eos ? [eos] : [],
    };
    var result = TextGenerator.Generate(ids => model.Forward(ids).Logits, promptIds, options, model.MaxPositions);
    Console.WriteLine($"  continuation: {prompt}{tokenizer.Decode(result.NewTokenIds.Select(id => (int)id), skipSpecialTokens: true)}");
}

// A LoRA job: LoadModel() rebuilds the base and applies the adapter; the chat template was saved with the tokenizer.
static void Reply(JobArtifacts job, string question)
{
    PrintMetrics(job);
    using var model = job.LoadModel();
    var tokenizer = job.LoadTokenizer();
    string prompt = ChatTemplate.For(tokenizer).Render([new ChatMessage("user", question)], addGenerationPrompt: true).Text;
    long[] promptIds = [.. tokenizer.Encode(prompt, addSpecialTokens: false).Select(id => (long)id)];
    var options = new GenerationOptions
    {
        MaxNewTokens = 20,
        EosTokenIds = tokenizer.EosTokenId is int eos ? [eos] : [],
    };
    var result = TextGenerator.Generate(ids => model.Forward(ids).Logits, promptIds, options, model.MaxPositions);
    Console.WriteLine($"  chat:         {question} -> {tokenizer.Decode(result.NewTokenIds.Select(id => (int)id), skipSpecialTokens: true).Trim()}");
}

static void FillIn(JobArtifacts job, string template)
{
    PrintMetrics(job);
    using var model = job.LoadModel();
    model.eval();
    var tokenizer = job.LoadTokenizer();
    string mask = tokenizer.MaskToken ?? throw new InvalidOperationException($"{job.JobName}'s tokenizer has no mask token");
    string text = string.Format(System.Globalization.CultureInfo.InvariantCulture, template, mask);
    long[] ids = [.. tokenizer.Encode(text).Select(id => (long)id)];
    var prediction = FillMask.Predict(x => model.Forward(x).Logits, ids, tokenizer.MaskTokenId!.Value, topK: 5, mask).Single();
    Console.WriteLine($"  fill-mask:    {text}");
    foreach (var candidate in prediction.Candidates)
        Console.WriteLine($"    {tokenizer.Decode([(int)candidate.TokenId]),-16} {candidate.Score:0.0000}");
}

static void PrintMetrics(JobArtifacts job)
{
    var metrics = job.ReadMetrics();
    string Metric(string name) => metrics.TryGetValue(name, out double value) ? value.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture) : "-";
    Console.WriteLine($"{job.JobName}: train_loss {Metric("train_loss")}, eval_loss {Metric("eval_loss")}, perplexity {Metric("perplexity")}");
}
