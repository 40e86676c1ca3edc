using System.CommandLine;
using System.CommandLine.Invocation;
using System.Text.Json.Nodes;
using Lm.Runtime.Errors;
using Lm.Tool.Commands;

namespace Lm.Tool.Cli;

/// <summary>
/// The <c>lm-tune</c> command tree and its invocation rules: usage errors exit 2 with the nearest valid name,
/// <see cref="LmException"/>s exit 1 as <c>error LM####: message</c> (stack trace only with <c>--verbose</c>),
/// Ctrl+C exits 130 after the running command stops at its next safe point.
/// </summary>
internal sealed class LmTuneApp
{
    private readonly TextWriter _stdout;
    private readonly TextWriter _stderr;
    private readonly MainThreadPump? _mainThread;

    /// <param name="mainThread">Where command bodies run; without it (in-process use) on the thread pool.</param>
    public LmTuneApp(TextWriter stdout, TextWriter stderr, MainThreadPump? mainThread = null)
    {
        _stdout = stdout;
        _stderr = stderr;
        _mainThread = mainThread;
        Root = new RootCommand("Fine-tune GPT-2, RoBERTa and BERT language models, Hugging Face-compatible.");
        Globals.AddTo(Root);
        Root.Subcommands.Add(TrainCommand.Create(this));
        Root.Subcommands.Add(EvaluateCommand.Create(this));
        Root.Subcommands.Add(GenerateCommand.Create(this));
        Root.Subcommands.Add(FillMaskCommand.Create(this));
        Root.Subcommands.Add(TokenizeCommand.Create(this));
        Root.Subcommands.Add(InitCommand.Create(this));
        Root.Subcommands.Add(MergeCommand.Create(this));
        Root.Subcommands.Add(DataCommand.Create(this));
        Root.Subcommands.Add(ExportCommand.Create(this));
        Root.Subcommands.Add(AdoptCommand.Create(this));
        Root.Subcommands.Add(QuickstartCommand.Create(this));
        Root.Subcommands.Add(DoctorCommand.Create(this));
    }

    public GlobalOptions Globals { get; } = new();

    public RootCommand Root { get; }

    /// <summary>Attaches a command body; the body returns its result or throws an <see cref="LmException"/>.</summary>
    public void SetAction(Command command, Func<CommandInvocation, Task<CommandResult>> body)
    {
        command.SetAction((parse, cancellation) => RunAsync(parse, cancellation, body));
    }

    /// <summary>Parses and runs one command line; returns the process exit code.</summary>
    public async Task<int> InvokeAsync(string[] args)
    {
        var parse = Root.Parse(args);
        if (parse.Action is ParseErrorAction)
            return ReportUsageError(parse);
        var configuration = new InvocationConfiguration
        {
            Output = _stdout,
            Error = _stderr,
            EnableDefaultExceptionHandler = false,
            // Long enough for a training step to finish and the trainer to stop at the step boundary.
            ProcessTerminationTimeout = TimeSpan.FromSeconds(30),
        };
        return await parse.InvokeAsync(configuration);
    }

    private async Task<int> RunAsync(ParseResult parse, CancellationToken cancellation, Func<CommandInvocation, Task<CommandResult>> body)
    {
        var output = Globals.CreateOutput(parse, _stdout, _stderr);
        try
        {
            // Off the invocation's thread, so Ctrl+C can cancel the token while torch computes.
            var invocation = new CommandInvocation(parse, output, cancellation);
            var result = await (_mainThread is not null
                ? _mainThread.Run(() => body(invocation))
                : Task.Run(() => body(invocation), CancellationToken.None));
            output.Result(result);
            return result.ExitCode;
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            output.Error(ErrorCodes.CommandCancelled, "cancelled");
            return ExitCodes.Cancelled;
        }
        catch (LmException e) when (e.Code == ErrorCodes.TrainingCancelled)
        {
            // The trainer stopped at a step boundary and saved a checkpoint; the message names it.
            output.Error(e.Code, e.Message, e);
            return ExitCodes.Cancelled;
        }
        catch (LmException e)
        {
            output.Error(e.Code, e.Message, e);
            return ExitCodes.Failure;
        }
        catch (Exception e)
        {
            var inner = e is TypeInitializationException or AggregateException && e.InnerException is not null ? e.InnerException : e;
            output.Error(ErrorCodes.UnexpectedFailure,
                $"{inner.GetType().Name}: {inner.Message}" + (output.Verbose ? "" : " (run with --verbose for the stack trace)"), e);
            return ExitCodes.Failure;
        }
    }

    private int ReportUsageError(ParseResult parse)
    {
        // System.CommandLine's own report names the nearest valid option or command ("Did you mean ...").
        var report = new StringWriter();
        var errorAction = new ParseErrorAction { ShowHelp = false, ShowTypoCorrections = true };
        parse.InvocationConfiguration.Error = report;
        parse.InvocationConfiguration.Output = report;
        errorAction.Invoke(parse);
        string text = report.ToString().Trim();
        _stderr.WriteLine(text);
        string commandPath = string.Join(' ', CommandPath(parse.CommandResult.Command));
        _stderr.WriteLine($"Run '{commandPath} --help' for the options.");
        if (parse.Tokens.Any(t => t.Value == "--json"))
        {
            _stdout.WriteLine(new JsonObject
            {
                ["error"] = new JsonObject { ["code"] = null, ["usage"] = true, ["message"] = text },
            }.ToJsonString());
        }
        return ExitCodes.UsageError;
    }

    private static IEnumerable<string> CommandPath(Command command)
    {
        var names = new Stack<string>();
        for (Command? c = command; c is not null; c = c.Parents.OfType<Command>().FirstOrDefault())
            names.Push(c is RootCommand ? "lm-tune" : c.Name);
        return names;
    }
}
