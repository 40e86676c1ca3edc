using System.CommandLine;
using System.Text.Json.Nodes;
using Lm.Runtime.Models;
using Lm.Runtime.Data;
using Lm.Runtime.Data.Chat;
using Lm.Runtime.Errors;
using Lm.Runtime.Hub;
using Lm.Runtime.Jobs;
using Lm.Tool.Cli;
using Spectre.Console;

namespace Lm.Tool.Commands;

/// <summary>
/// <c>lm-tune data preview|stats</c>: look at a job's data before training: random rows as a table (the tutorial's
/// <c>show_random_elements</c>), and rows, tokens, blocks and dropped tokens per split as the pipeline will make them.
/// Both take the train command's data flags (and <c>--config</c>).
/// </summary>
internal static class DataCommand
{
    public static Command Create(LmTuneApp app)
    {
        var command = new Command("data", "Inspect a job's data: random examples, and token/block statistics");
        command.Subcommands.Add(Preview(app));
        command.Subcommands.Add(Stats(app));
        return command;
    }

    private static Command Preview(LmTuneApp app)
    {
        // The model fields give chat rows their tokenizer and chat template; text rows need none.
        var jobOptions = new JobOptions(f => f.Section is "data" or "model" || f.Name == "seed");
        var split = new Option<string>("--split") { Description = "train or validation", DefaultValueFactory = _ => "train" };
        split.AcceptOnlyFromAmong("train", "validation");
        var count = new Option<int>("--count", "-n") { Description = "How many random rows", DefaultValueFactory = _ => 10 };
        var command = new Command("preview", "Show random rows of a split as a table") { split, count };
        jobOptions.AddTo(command);
        app.SetAction(command, async invocation =>
        {
            int n = invocation.Get(count);
            if (n <= 0) throw new LmException(ErrorCodes.InvalidOption, $"--count must be positive, got {n}");
            var job = FineTuneJob.FromJson(jobOptions.ReadJson(invocation));
            string name = invocation.Get(split)!;
            if (SupervisedData.DetectFormat(job.Data) is { } format)
                return await PreviewChat(job, format, name, n, invocation);
            await DatasetLocator.EnsureCachedAsync(job.Data, HubSettings.FromEnvironment(), invocation.Output.Info, invocation.Cancellation);
            var splits = DataPipeline.OpenSplits(job.Data);
            var source = (name == "train" ? splits.Train : splits.Validation)
                ?? throw new LmException(ErrorCodes.InvalidDataArgument, $"the data has no {name} split; give --train-file or --dataset-name");
            var rows = DatasetPreview.RandomRows(source, n, job.Training.Seed);
            var json = new JsonObject
            {
                ["split"] = name,
                ["source"] = source.Name,
                ["rows"] = new JsonArray(rows.Select(r => (JsonNode?)new JsonObject { ["index"] = r.Index, ["text"] = r.Text }).ToArray()),
            };
            return new CommandResult(json, o =>
            {
                var table = new Table().AddColumn(new TableColumn("row").RightAligned()).AddColumn("text");
                foreach (var row in rows) table.AddRow(new Text(row.Index.ToString()), new Text(row.Text.TrimEnd('\n')));
                Console(o).Write(table);
            });
        });
        return command;
    }

    /// <summary>
    /// Chat and instruction rows rendered as training renders them, the stretches that take loss marked: in colour on a
    /// terminal, between <c>[[</c> and <c>]]</c> otherwise.
    /// </summary>
    private static async Task<CommandResult> PreviewChat(FineTuneJob job, SupervisedFormat format, string split, int count, CommandInvocation invocation)
    {
        if (string.IsNullOrWhiteSpace(job.Model.ModelNameOrPath) && job.Model.TokenizerName is null)
            throw new LmException(ErrorCodes.InvalidArgument,
                "data preview of chat and instruction rows needs --model (or --tokenizer-name): its tokenizer and chat template render them");
        var source = await ModelSource.ResolveAsync(job.Model, invocation.Output.Info, invocation.Output.Detail, invocation.Cancellation);
        var (rows, path) = SupervisedData.ReadSplit(job.Data, format, split);
        if (rows is null || rows.Count == 0)
            throw new LmException(ErrorCodes.InvalidDataArgument, $"the data has no {split} rows; give --train-file (or --validation-file)");
        var supervised = SupervisedData.CreateTokenizer(job.Data, format, source.Tokenizer, rows[0]);
        var previews = SupervisedPreview.RandomRows(rows, supervised, source.Tokenizer, count, job.Training.Seed);
        var json = new JsonObject
        {
            ["split"] = split,
            ["source"] = path,
            ["format"] = SupervisedData.FormatName(format),
            ["assistant_only_loss"] = supervised.AssistantOnlyLoss,
            ["completion_only_loss"] = supervised.CompletionOnlyLoss,
            ["rows"] = new JsonArray(previews.Select(p => (JsonNode?)new JsonObject
            {
                ["index"] = p.Index,
                ["text"] = p.Rendered,
                ["tokens"] = p.Tokens,
                ["trained_tokens"] = p.TrainedTokens,
                ["segments"] = new JsonArray(p.Segments.Select(g => (JsonNode?)new JsonObject { ["text"] = g.Text, ["trained"] = g.Trained }).ToArray()),
            }).ToArray()),
        };
        return new CommandResult(json, o =>
        {
            var console = Console(o);
            bool colour = !System.Console.IsOutputRedirected;
            foreach (var p in previews)
            {
                console.Write(new Rule($"row {p.Index}: {p.TrainedTokens} of {p.Tokens} tokens trained").LeftJustified());
                console.WriteLine();
                foreach (var g in p.Segments)
                {
                    if (!g.Trained) console.Write(new Text(g.Text));
                    else if (colour) console.Write(new Text(g.Text, new Style(Color.Green, decoration: Decoration.Bold)));
                    else console.Write(new Text("[[" + g.Text + "]]"));
                }
                console.WriteLine();
            }
        });
    }

    private static Command Stats(LmTuneApp app)
    {
        var jobOptions = new JobOptions(f => f.Section is "data" or "model");
        var command = new Command("stats", "Tokenize and group the data as training would (token cache included): rows, tokens, blocks, dropped tokens");
        jobOptions.AddTo(command);
        app.SetAction(command, async invocation =>
        {
            var job = FineTuneJob.FromJson(jobOptions.ReadJson(invocation));
            if (string.IsNullOrWhiteSpace(job.Model.ModelNameOrPath) && job.Model.ConfigName is null && job.Model.ModelType is null)
                throw new LmException(ErrorCodes.InvalidArgument, "data stats needs --model: its tokenizer and length decide the blocks");
            var source = await ModelSource.ResolveAsync(job.Model, invocation.Output.Info, invocation.Output.Detail, invocation.Cancellation);
            await DatasetLocator.EnsureCachedAsync(job.Data, HubSettings.FromEnvironment(job.Model.CacheDir), invocation.Output.Info, invocation.Cancellation);
            var objective = source.Objective(job.Model) == "clm" ? DataObjective.Clm : DataObjective.Mlm;
            if (objective == DataObjective.Clm && SupervisedData.DetectFormat(job.Data) is { } format)
                return ChatStats(job, format, source.Tokenizer, source.Config.MaxPositions, source.Name, invocation);
            var splits = DataPipeline.OpenSplits(job.Data, job.Model.CacheDir);
            using var prepared = DataPipeline.Prepare(job.Data, new LmTokenizerTextEncoder(source.Tokenizer), objective,
                train: splits.Train is not null, validation: splits.Validation is not null, source.Config.MaxPositions,
                hubCacheDir: job.Model.CacheDir, log: invocation.Output.Info, cancellation: invocation.Cancellation);
            var splitsJson = new JsonObject();
            var table = new Table().AddColumns("split", "rows", "tokens", "examples", "block size", "dropped tokens", "source");
            foreach (var dataset in new[] { prepared.Train, prepared.Validation }.OfType<LmDataset>())
            {
                var s = dataset.Stats;
                splitsJson[s.Split] = new JsonObject
                {
                    ["rows"] = s.Rows,
                    ["tokens"] = s.Tokens,
                    ["examples"] = s.Examples,
                    ["block_size"] = s.BlockSize,
                    ["dropped_tokens"] = s.DroppedTokens,
                    ["line_by_line"] = s.LineByLine,
                    ["source"] = s.Source,
                };
                table.AddRow(s.Split, $"{s.Rows:N0}", $"{s.Tokens:N0}", $"{s.Examples:N0}", s.BlockSize.ToString(), $"{s.DroppedTokens:N0}", Markup.Escape(s.Source));
            }
            var json = new JsonObject
            {
                ["model"] = source.Name,
                ["objective"] = objective == DataObjective.Clm ? "clm" : "mlm",
                ["splits"] = splitsJson,
            };
            foreach (string warning in prepared.Warnings) invocation.Output.Warning(warning);
            return new CommandResult(json, o => Console(o).Write(table));
        });
        return command;
    }

    /// <summary>Chat and instruction data as training prepares it: rows, examples, sequences, tokens and trained tokens per split.</summary>
    private static CommandResult ChatStats(FineTuneJob job, SupervisedFormat format, Lm.Runtime.Tokenization.LmTokenizer tokenizer, int maxPositions,
        string model, CommandInvocation invocation)
    {
        bool hasValidation = job.Data.ValidationFile is not null || job.Data.ValidationSplitPercentage > 0;
        var prepared = SupervisedData.Prepare(job.Data, format, tokenizer, maxPositions, train: job.Data.TrainFile is not null,
            validation: hasValidation, log: invocation.Output.Info);
        var splitsJson = new JsonObject();
        var table = new Table().AddColumns("split", "rows", "examples", "sequences", "tokens", "trained tokens", "max length", "source");
        foreach (var dataset in new[] { prepared.Train, prepared.Validation }.OfType<SupervisedDataset>())
        {
            var s = dataset.Stats;
            splitsJson[s.Split] = new JsonObject
            {
                ["rows"] = s.Rows,
                ["examples"] = s.Examples,
                ["sequences"] = s.Sequences,
                ["tokens"] = s.Tokens,
                ["trained_tokens"] = s.TrainedTokens,
                ["dropped_examples"] = s.DroppedExamples,
                ["max_length"] = s.MaxLength,
                ["packed"] = s.Packed,
                ["source"] = s.Source,
            };
            table.AddRow(s.Split, $"{s.Rows:N0}", $"{s.Examples:N0}", $"{s.Sequences:N0}", $"{s.Tokens:N0}", $"{s.TrainedTokens:N0}", s.MaxLength.ToString(), Markup.Escape(s.Source));
        }
        var json = new JsonObject { ["model"] = model, ["objective"] = "clm", ["format"] = SupervisedData.FormatName(format), ["splits"] = splitsJson };
        return new CommandResult(json, o => Console(o).Write(table));
    }

    /// <summary>A Spectre console on the result stream: colour and box drawing only on a terminal.</summary>
    private static IAnsiConsole Console(TextWriter writer) => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new AnsiConsoleOutput(writer),
        Ansi = System.Console.IsOutputRedirected ? AnsiSupport.No : AnsiSupport.Detect,
        ColorSystem = System.Console.IsOutputRedirected ? ColorSystemSupport.NoColors : ColorSystemSupport.Detect,
    });
}
