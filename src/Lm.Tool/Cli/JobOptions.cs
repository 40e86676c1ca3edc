using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Lm.Runtime.Errors;
using Lm.Runtime.Jobs;

namespace Lm.Tool.Cli;

/// <summary>
/// The fine-tune schema as command-line options: one option per <see cref="FineTuneJob.Fields"/> entry, named by its
/// <see cref="JobField.FlagName"/> (<c>--learning-rate</c>) and, as HfArgumentParser names it, by its HF name
/// (<c>--learning_rate</c>); a boolean whose default is true also gets HF's negation (<c>--no_keep_linebreaks</c>,
/// <c>--no-keep-linebreaks</c>). Plus <c>--config job.json</c> and the <c>--model</c> alias of
/// <c>--model-name-or-path</c> and the <c>--chat-template</c> alias of <c>--chat-template-path</c>.
/// Generated from the schema, so flags, JSON keys and MSBuild metadata cannot drift apart.
/// </summary>
internal sealed class JobOptions
{
    private readonly List<(JobField Field, Option<string[]> Option)> _fields = new();
    private readonly List<(JobField Field, Option<bool> Option)> _negations = new();

    /// <param name="include">Which fields become options (all by default; <c>generate</c> takes the model section only).</param>
    public JobOptions(Func<JobField, bool>? include = null)
    {
        JsonObject defaults = new FineTuneJob().ToJsonObject();
        foreach (var field in FineTuneJob.Fields.Where(include ?? (_ => true)))
        {
            // HfArgumentParser: `--learning_rate` and `--learning-rate` both name learning_rate.
            var aliases = new List<string>();
            if (field.Name.Contains('_')) aliases.Add("--" + field.Name);
            if (field.Name == "model_name_or_path") aliases.Add("--model");
            if (field.Name == "chat_template_path") aliases.Add("--chat-template");
            var option = new Option<string[]>(field.FlagName, [.. aliases]);
            option.HelpName = field.Kind switch
            {
                JobFieldKind.Integer => "int",
                JobFieldKind.Number => "number",
                JobFieldKind.Boolean => "bool",
                JobFieldKind.Map => "key=value,...",
                _ => "text",
            };
            // A bare boolean flag means true, as HfArgumentParser reads `--do_train`; a flag given twice takes its last
            // value, as argparse does (one value per occurrence).
            option.Arity = field.Kind == JobFieldKind.Boolean ? ArgumentArity.ZeroOrMore : ArgumentArity.OneOrMore;
            option.AllowMultipleArgumentsPerToken = false;
            string? defaultText = DefaultText(defaults[field.Name]);
            option.Description = $"{field.Name}" + (defaultText is null ? "" : $" (default {defaultText})");
            _fields.Add((field, option));
            if (field.Kind == JobFieldKind.Boolean && defaults[field.Name] is JsonValue d && d.GetValueKind() == System.Text.Json.JsonValueKind.True)
            {
                // HfArgumentParser adds `--no_NAME` (and `--no-NAME` with dashes) for a bool field whose default is True.
                var negation = new Option<bool>("--no_" + field.Name, "--no-" + field.Name.Replace('_', '-'))
                {
                    Arity = ArgumentArity.Zero,
                    Description = $"{field.Name} = false",
                };
                _negations.Add((field, negation));
            }
        }
    }

    /// <summary><c>--config job.json</c>: a flat JSON object with HF's snake_case names; flags override it.</summary>
    public Option<string> Config { get; } = new("--config")
    {
        Description = "A job file: one JSON object with Hugging Face argument names (learning_rate, ...); flags override it",
        HelpName = "job.json",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Config);
        foreach (var (_, option) in _fields) command.Options.Add(option);
        foreach (var (_, option) in _negations) command.Options.Add(option);
    }

    /// <summary>
    /// The job's JSON: the <c>--config</c> file first (a Hugging Face <c>TrainingArguments</c> dump is read as
    /// <see cref="HfTrainingArguments.Translate"/> says, its ignored keys named in one warning), then every flag given
    /// on the command line (parsed by its field), then <paramref name="fixedValues"/> the command itself decides
    /// (<c>do_train</c> for train).
    /// </summary>
    /// <param name="jobFile">A job file named otherwise than by <c>--config</c> (<c>export JOB.json</c>); <c>--config</c> wins.</param>
    public JsonObject ReadJson(CommandInvocation invocation, IReadOnlyDictionary<string, JsonNode?>? fixedValues = null, string? jobFile = null)
    {
        var parse = invocation.Parse;
        var json = new JsonObject();
        if ((parse.GetValue(Config) ?? jobFile) is { } configPath)
        {
            var translation = HfTrainingArguments.Translate(FineTuneJob.ParseObject(ReadConfigText(configPath), configPath));
            if (translation.Warning is { } warning) invocation.Output.Warning($"{configPath}: {warning}");
            json = translation.Job;
        }
        foreach (var (field, option) in _fields)
        {
            if (parse.GetResult(option) is not { Implicit: false } result) continue;
            string text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "true";
            // HfArgumentParser's string_to_bool: `--do_train yes`, `--bf16 1`, `--keep_linebreaks False`.
            if (field.Kind == JobFieldKind.Boolean && HfTrainingArguments.ParseBool(text) is bool flag) text = flag ? "true" : "false";
            json[field.Name] = field.ParseText(text);
        }
        foreach (var (field, option) in _negations)
        {
            if (parse.GetResult(option) is { Implicit: false }) json[field.Name] = false;
        }
        foreach (var (name, value) in fixedValues ?? new Dictionary<string, JsonNode?>())
            json[name] = value?.DeepClone();
        return json;
    }

    /// <summary>Reads, checks (<see cref="FineTuneJob.Validate"/>) and returns the job.</summary>
    public FineTuneJob Read(CommandInvocation invocation, IReadOnlyDictionary<string, JsonNode?>? fixedValues = null, string? jobFile = null)
    {
        var job = FineTuneJob.FromJson(ReadJson(invocation, fixedValues, jobFile));
        job.Validate();
        return job;
    }

    private static string ReadConfigText(string path)
    {
        if (!File.Exists(path))
            throw new LmException(ErrorCodes.JobConfigUnreadable, $"job configuration '{path}' does not exist") { File = path };
        return File.ReadAllText(path);
    }

    private static string? DefaultText(JsonNode? value) => value switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out double d) => d.ToString(CultureInfo.InvariantCulture),
        JsonObject o when o.Count == 0 => null,
        _ => value.ToJsonString().Trim('"'),
    };
}
