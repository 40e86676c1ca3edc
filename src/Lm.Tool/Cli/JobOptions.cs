using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Lm.Runtime.Errors;
using Lm.Runtime.Jobs;

namespace Lm.Tool.Cli;

/// <summary>
/// The fine-tune schema as command-line options: one option per <see cref="FineTuneJob.Fields"/> entry, named by its
/// <see cref="JobField.FlagName"/> (<c>--learning-rate</c>), plus <c>--config job.json</c> and the <c>--model</c> alias of
/// <c>--model-name-or-path</c>. Generated from the schema, so flags, JSON keys and MSBuild metadata cannot drift apart.
/// </summary>
internal sealed class JobOptions
{
    private readonly List<(JobField Field, Option<string[]> Option)> _fields = new();

    /// <param name="include">Which fields become options (all by default; <c>generate</c> takes the model section only).</param>
    public JobOptions(Func<JobField, bool>? include = null)
    {
        JsonObject defaults = new FineTuneJob().ToJsonObject();
        foreach (var field in FineTuneJob.Fields.Where(include ?? (_ => true)))
        {
            var option = field.Name == "model_name_or_path"
                ? new Option<string[]>(field.FlagName, "--model")
                : new Option<string[]>(field.FlagName);
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
    }

    /// <summary>
    /// The job's JSON: the <c>--config</c> file first, then every flag given on the command line (parsed by its field),
    /// then <paramref name="fixedValues"/> the command itself decides (<c>do_train</c> for train).
    /// </summary>
    /// <param name="jobFile">A job file named otherwise than by <c>--config</c> (<c>export JOB.json</c>); <c>--config</c> wins.</param>
    public JsonObject ReadJson(ParseResult parse, IReadOnlyDictionary<string, JsonNode?>? fixedValues = null, string? jobFile = null)
    {
        JsonObject json = (parse.GetValue(Config) ?? jobFile) is { } configPath
            ? FineTuneJob.ParseObject(ReadConfigText(configPath), configPath)
            : new JsonObject();
        foreach (var (field, option) in _fields)
        {
            if (parse.GetResult(option) is not { Implicit: false } result) continue;
            string text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "true";
            json[field.Name] = field.ParseText(text);
        }
        foreach (var (name, value) in fixedValues ?? new Dictionary<string, JsonNode?>())
            json[name] = value?.DeepClone();
        return json;
    }

    /// <summary>Reads, checks (<see cref="FineTuneJob.Validate"/>) and returns the job.</summary>
    public FineTuneJob Read(ParseResult parse, IReadOnlyDictionary<string, JsonNode?>? fixedValues = null, string? jobFile = null)
    {
        var job = FineTuneJob.FromJson(ReadJson(parse, fixedValues, jobFile));
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
