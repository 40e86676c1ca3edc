using System.Globalization;
using System.Text;
using Lm.Runtime.Training;

namespace Lm.Runtime.Jobs;

/// <summary>
/// The README.md a pushed run carries, laid out as transformers' <c>TrainingSummary.to_model_card()</c> writes it
/// for <c>Trainer.create_model_card</c>: YAML metadata (library, base model, <c>generated_from_trainer</c> tag,
/// dataset, model-index with the evaluation results), the evaluation results, the fixed "More information needed"
/// sections, the training hyperparameters (<c>extract_hyperparameters_from_trainer</c>), the training results table
/// (<c>parse_log_history</c>) and the framework versions, which name lm-tune and TorchSharp. One difference: HF
/// leaves model-index's results empty for local files (it only names hub datasets) and lists only metrics with a hub
/// tag (accuracy); lm-tune records the evaluation of local files too, with the loss and perplexity, since the card
/// is where the hub shows a run's results.
/// </summary>
internal static class ModelCard
{
    /// <summary>What the card says about one run.</summary>
    /// <param name="ModelName">The repository's name (hub_model_id's last part).</param>
    /// <param name="BaseModel">The hub id the run started from; null for a local folder or a model from scratch.</param>
    /// <param name="DatasetName">The hub dataset trained on (dataset_name), if any.</param>
    /// <param name="DatasetConfig">Its configuration (dataset_config_name).</param>
    /// <param name="TrainFile">The local training file, when there is no hub dataset.</param>
    /// <param name="Objective"><c>clm</c> or <c>mlm</c>.</param>
    /// <param name="Arguments">The run's training arguments (the hyperparameters section).</param>
    /// <param name="Metrics">The run's final metrics (train_*, eval_*, perplexity).</param>
    /// <param name="LogHistory">The trainer's log_history (the training results table).</param>
    public sealed record Facts(string ModelName, string? BaseModel, string? DatasetName, string? DatasetConfig, string? TrainFile,
        string Objective, TrainingArguments Arguments, IReadOnlyDictionary<string, double> Metrics, IReadOnlyList<LogEntry> LogHistory);

    /// <summary>Metric keys HF leaves out of a card's results (speed and counts).</summary>
    private static readonly string[] SpeedKeys = ["runtime", "samples_per_second", "steps_per_second", "samples", "epoch", "step"];

    public static string Render(Facts facts)
    {
        var eval = facts.Metrics
            .Where(p => p.Key.StartsWith("eval_", StringComparison.Ordinal) && !SpeedKeys.Contains(p.Key["eval_".Length..]))
            .Select(p => (Name: TitleName(p.Key["eval_".Length..]), p.Value))
            .ToList();
        if (facts.Metrics.TryGetValue("perplexity", out double perplexity)) eval.Add(("Perplexity", perplexity));
        bool clm = facts.Objective == "clm";
        var (taskName, taskType) = clm ? ("Causal Language Modeling", "text-generation") : ("Masked Language Modeling", "fill-mask");
        string? datasetType = facts.DatasetName ?? (facts.TrainFile is { } file ? BuilderName(file) : null);
        string? datasetName = facts.DatasetName is { } hubName
            ? hubName + (facts.DatasetConfig is { } config ? " " + config : "")
            : facts.TrainFile is { } local ? Path.GetFileName(local) : null;

        var card = new StringBuilder();
        card.Append("---\n");
        card.Append("library_name: transformers\n");
        if (facts.BaseModel is { } baseModel) card.Append("base_model: ").Append(Yaml(baseModel)).Append('\n');
        card.Append("tags:\n- generated_from_trainer\n- lm-tune\n");
        if (facts.DatasetName is { } dataset) card.Append("datasets:\n- ").Append(Yaml(dataset)).Append('\n');
        if (eval.Count > 0)
        {
            card.Append("metrics:\n");
            foreach (var (name, _) in eval) card.Append("- ").Append(MetricType(name)).Append('\n');
        }
        card.Append("model-index:\n- name: ").Append(Yaml(facts.ModelName)).Append('\n');
        if (eval.Count == 0 || datasetType is null)
        {
            card.Append("  results: []\n");
        }
        else
        {
            card.Append("  results:\n  - task:\n");
            card.Append("      name: ").Append(taskName).Append("\n      type: ").Append(taskType).Append('\n');
            card.Append("    dataset:\n      name: ").Append(Yaml(datasetName!)).Append("\n      type: ").Append(Yaml(datasetType)).Append('\n');
            if (facts.DatasetConfig is { } args) card.Append("      args: ").Append(Yaml(args)).Append('\n');
            card.Append("    metrics:\n");
            foreach (var (name, value) in eval)
                card.Append("    - name: ").Append(name).Append("\n      type: ").Append(MetricType(name)).Append("\n      value: ").Append(Number(value)).Append('\n');
        }
        card.Append("---\n\n");
        card.Append("<!-- This model card has been generated automatically according to the information the Trainer had access to. You\n");
        card.Append("should probably proofread and complete it, then remove this comment. -->\n\n");
        card.Append("# ").Append(facts.ModelName).Append("\n\n");
        card.Append(facts.BaseModel is { } from ? $"This model is a fine-tuned version of [{from}](https://huggingface.co/{from})" : "This model was trained from scratch");
        card.Append(" on ").Append(facts.DatasetName is null ? "an unknown dataset" : $"the {datasetName} dataset").Append(".\n");
        if (eval.Count > 0)
        {
            card.Append("It achieves the following results on the evaluation set:\n");
            foreach (var (name, value) in eval) card.Append("- ").Append(name).Append(": ").Append(MaybeRound(value)).Append('\n');
        }
        card.Append("\n## Model description\n\nMore information needed\n\n");
        card.Append("## Intended uses & limitations\n\nMore information needed\n\n");
        card.Append("## Training and evaluation data\n\nMore information needed\n\n");
        card.Append("## Training procedure\n\n### Training hyperparameters\n\n");
        card.Append("The following hyperparameters were used during training:\n");
        foreach (var (name, value) in Hyperparameters(facts.Arguments)) card.Append("- ").Append(name).Append(": ").Append(value).Append('\n');
        if (ResultsTable(facts.LogHistory) is { } table) card.Append("\n### Training results\n\n").Append(table);
        card.Append("\n### Framework versions\n\n");
        card.Append("- lm-tune ").Append(Version(typeof(ModelCard).Assembly)).Append('\n');
        card.Append("- TorchSharp ").Append(Version(typeof(TorchSharp.torch).Assembly)).Append('\n');
        return card.ToString();
    }

    /// <summary>HF's <c>extract_hyperparameters_from_trainer</c>, for the settings lm-tune has (one process, one device).</summary>
    private static List<(string Name, string Value)> Hyperparameters(TrainingArguments args)
    {
        var list = new List<(string, string)>
        {
            ("learning_rate", MaybeRound(args.LearningRate)),
            ("train_batch_size", args.PerDeviceTrainBatchSize.ToString(CultureInfo.InvariantCulture)),
            ("eval_batch_size", args.PerDeviceEvalBatchSize.ToString(CultureInfo.InvariantCulture)),
            ("seed", args.Seed.ToString(CultureInfo.InvariantCulture)),
        };
        if (args.GradientAccumulationSteps > 1)
        {
            list.Add(("gradient_accumulation_steps", args.GradientAccumulationSteps.ToString(CultureInfo.InvariantCulture)));
            list.Add(("total_train_batch_size", (args.PerDeviceTrainBatchSize * args.GradientAccumulationSteps).ToString(CultureInfo.InvariantCulture)));
        }
        list.Add(("optimizer", $"Use OptimizerNames.{args.Optim.ToUpperInvariant()} with betas=({Number(args.AdamBeta1)},{Number(args.AdamBeta2)}) " +
            $"and epsilon={Number(args.AdamEpsilon)} and optimizer_args=No additional optimizer arguments"));
        list.Add(("lr_scheduler_type", args.LrSchedulerType));
        if (args.WarmupRatio != 0) list.Add(("lr_scheduler_warmup_ratio", Number(args.WarmupRatio)));
        if (args.WarmupSteps != 0) list.Add(("lr_scheduler_warmup_steps", args.WarmupSteps.ToString(CultureInfo.InvariantCulture)));
        list.Add(args.MaxSteps != -1
            ? ("training_steps", args.MaxSteps.ToString(CultureInfo.InvariantCulture))
            : ("num_epochs", PythonFloat(args.NumTrainEpochs)));
        if (args.Bf16) list.Add(("mixed_precision_training", "bf16 (fp32 master weights)"));
        if (args.LabelSmoothingFactor != 0) list.Add(("label_smoothing_factor", Number(args.LabelSmoothingFactor)));
        return list;
    }

    /// <summary>HF's <c>parse_log_history</c>: one row per evaluation, with the last training loss logged before it.</summary>
    private static string? ResultsTable(IReadOnlyList<LogEntry> history)
    {
        var rows = new List<List<string>>();
        List<string>? metricNames = null;
        string trainingLoss = "No log";
        foreach (var entry in history)
        {
            if (entry.TryGetValue("loss", out double loss)) trainingLoss = MaybeRound(loss);
            if (!entry.TryGetValue("eval_loss", out double evalLoss)) continue;
            var metrics = entry.Values.Where(p => p.Key.StartsWith("eval_", StringComparison.Ordinal) && p.Key != "eval_loss"
                    && !SpeedKeys.Contains(p.Key["eval_".Length..]))
                .ToList();
            metricNames ??= metrics.Select(p => TitleName(p.Key["eval_".Length..])).ToList();
            var row = new List<string>
            {
                trainingLoss,
                entry.TryGetValue("epoch", out double epoch) ? MaybeRound(epoch) : "-",
                entry.Step.ToString(CultureInfo.InvariantCulture),
                MaybeRound(evalLoss),
            };
            row.AddRange(metrics.Select(p => MaybeRound(p.Value)));
            rows.Add(row);
        }
        if (rows.Count == 0) return null;
        var header = new List<string> { "Training Loss", "Epoch", "Step", "Validation Loss" };
        header.AddRange(metricNames!);
        var widths = header.Select((h, i) => Math.Max(h.Length, rows.Max(r => i < r.Count ? r[i].Length : 0))).ToList();
        var table = new StringBuilder();
        table.Append("| ").Append(string.Join(" | ", header.Select((h, i) => h.PadRight(widths[i])))).Append(" |\n");
        table.Append('|').Append(string.Join("|", widths.Select(w => ":" + new string('-', w) + ":"))).Append("|\n");
        foreach (var row in rows)
            table.Append("| ").Append(string.Join(" | ", row.Select((c, i) => c.PadRight(widths[i])))).Append(" |\n");
        return table.ToString();
    }

    /// <summary>HF's metric names in a card: <c>accuracy</c> → <c>Accuracy</c>, <c>eval_f1_score</c> → <c>F1 Score</c>.</summary>
    private static string TitleName(string key) =>
        string.Join(" ", key.Split('_').Where(p => p.Length > 0).Select(p => char.ToUpperInvariant(p[0]) + p[1..]));

    private static string MetricType(string name) => name.ToLowerInvariant().Replace(' ', '_');

    /// <summary>The <c>datasets</c> builder run_clm.py loads a local file with (by its extension; <c>.txt</c> is <c>text</c>).</summary>
    private static string BuilderName(string file) => Path.GetExtension(file).ToLowerInvariant() switch
    {
        ".json" or ".jsonl" => "json",
        ".csv" => "csv",
        ".parquet" => "parquet",
        _ => "text",
    };

    /// <summary>HF's <c>_maybe_round</c>: floats with more than 4 decimals are written with 4.</summary>
    private static string MaybeRound(double value)
    {
        string text = PythonFloat(value);
        int dot = text.IndexOf('.');
        return dot >= 0 && !text.Contains('e') && text.Length - dot - 1 > 4 ? value.ToString("F4", CultureInfo.InvariantCulture) : text;
    }

    /// <summary>A float as Python's <c>str</c> writes it (<c>3.0</c>, <c>5e-05</c>).</summary>
    private static string PythonFloat(double value) => Tokenization.Chat.JinjaValues.FloatRepr(value);

    private static string Number(double value) => PythonFloat(value);

    /// <summary>A YAML scalar: plain when safe, else double-quoted.</summary>
    private static string Yaml(string text) =>
        text.Length > 0 && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/') && !char.IsDigit(text[0])
            ? text
            : "\"" + text.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    private static string Version(System.Reflection.Assembly assembly) =>
        (assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion
         ?? assembly.GetName().Version?.ToString() ?? "unknown").Split('+')[0];
}
