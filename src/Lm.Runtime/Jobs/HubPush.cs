using System.Globalization;
using Lm.Runtime.Errors;
using Lm.Runtime.Hub;
using Lm.Runtime.Models;
using Lm.Runtime.Training;

namespace Lm.Runtime.Jobs;

/// <summary>
/// transformers' Trainer with <c>push_to_hub</c>: <c>init_hf_repo</c> before training (the repository is created, or
/// found existing, so a wrong id or token fails before any work), <c>_push_from_checkpoint</c> at each checkpoint
/// save for every strategy but <c>end</c> (the checkpoint's model, tokenizer and training arguments at the
/// repository's top, plus the checkpoint itself as <c>last-checkpoint/</c> or <c>checkpoint-N/</c> for the
/// <c>checkpoint</c> and <c>all_checkpoints</c> strategies), and <c>push_to_hub</c> after training ("Model save",
/// which run_clm.py's <c>save_model()</c> makes) and at the end ("End of training", after evaluation), each writing
/// the model card README.md first. The output folder is uploaded as HF uploads it: <c>_*</c> and
/// <c>checkpoint-*</c> left out, TensorBoard's <c>runs/</c> included; lm-tune also leaves out its build marker.
/// Pushes wait for their upload (HF's run in the background and skip a save while one is running): the commits are
/// the same, in order. A failed push during training is a warning and training goes on; a failed final push is an
/// error after everything is written, and the output folder is never touched by a push.
/// </summary>
internal sealed class HubPush : IDisposable
{
    /// <summary>HF's <c>ignore_patterns</c> for the output folder, plus lm-tune's build marker (it holds a local path).</summary>
    private static readonly string[] OutputIgnorePatterns = ["_*", "checkpoint-*", OutputFolderMarker.FileName];

    /// <summary>A checkpoint's files that only resume training; the rest (model, tokenizer, arguments) is what HF copies to the top.</summary>
    private static readonly string[] ResumeOnlyFiles =
        ["optimizer.safetensors", "optimizer.json", "scheduler.json", "rng_state.json", "trainer_progress.json", "trainer_state.json",
         CheckpointFolders.CompletionMarker];

    private readonly FineTuneJob _job;
    private readonly HubUploader _uploader;
    private readonly Action<JobProgress> _report;
    private readonly string _revision;

    private HubPush(FineTuneJob job, HubUploader uploader, string repoId, Action<JobProgress> report)
    {
        _job = job;
        _uploader = uploader;
        RepoId = repoId;
        _report = report;
        _revision = job.Training.HubRevision ?? "main";
        _uploader.Log += line => report(new JobProgress(JobProgressKind.Detail, line));
    }

    /// <summary>The repository pushed to, as the hub named it (<c>org/name</c>).</summary>
    public string RepoId { get; }

    /// <summary>
    /// HF's <c>init_hf_repo</c>: the repository name (<c>hub_model_id</c>, else the output folder's name), the token
    /// (<c>hub_token</c>, else <c>HF_TOKEN</c>, else <c>$HF_HOME/token</c>) and <c>create_repo(exist_ok=True)</c>.
    /// </summary>
    public static async Task<HubPush> StartAsync(FineTuneJob job, Action<JobProgress> report, CancellationToken cancellation)
    {
        var args = job.Training;
        string name = args.HubModelId ?? new DirectoryInfo(Path.GetFullPath(args.OutputDir)).Name;
        HubRepoId.Require(name, args.HubModelId is null ? $"the output folder's name '{name}' (hub_model_id's default)" : "hub_model_id");
        var settings = HubSettings.FromEnvironment(job.Model.CacheDir);
        if (settings.Offline)
            throw new LmException(ErrorCodes.HubPushFailed, "push_to_hub with HF_HUB_OFFLINE set: nothing can be pushed offline; unset HF_HUB_OFFLINE or drop --push-to-hub");
        string token = args.HubToken is { Length: > 0 } given ? given : settings.Token
            ?? throw new LmException(ErrorCodes.HubTokenMissing,
                "push_to_hub needs a hub token with write access: set HF_TOKEN (or log in so that $HF_HOME/token exists), or pass --hub-token");
        var uploader = new HubUploader(settings, token);
        try
        {
            string repoId = await uploader.CreateRepoAsync(name, args.HubPrivateRepo, cancellation);
            report(new JobProgress(JobProgressKind.Info, $"pushing to hub repository {repoId} ({args.HubStrategy})"));
            return new HubPush(job, uploader, repoId, report);
        }
        catch
        {
            uploader.Dispose();
            throw;
        }
    }

    /// <summary>Pushes at each checkpoint the trainer saves, as the strategy says.</summary>
    public void Attach(Trainer trainer, CancellationToken cancellation)
    {
        if (_job.Training.HubStrategy == HubStrategy.End) return;
        trainer.Saved += (_, e) =>
        {
            // A checkpoint written because the run was cancelled is for resuming here, not for the hub.
            if (cancellation.IsCancellationRequested) return;
            try
            {
                // The trainer raises this on its own thread and waits for it; the push runs on the thread pool, so that a
                // front end's synchronization context (the CLI pumps the main thread) is not needed to finish it.
                Task.Run(() => PushCheckpointAsync(trainer, e.Folder, e.GlobalStep, cancellation), CancellationToken.None).GetAwaiter().GetResult();
            }
            catch (LmException failure)
            {
                _report(new JobProgress(JobProgressKind.Warning,
                    $"pushing checkpoint {Path.GetFileName(e.Folder)} to {RepoId} failed, training goes on: {failure.Code}: {failure.Message}"));
            }
        };
    }

    /// <summary>HF's <c>_push_from_checkpoint</c>.</summary>
    private async Task PushCheckpointAsync(Trainer trainer, string checkpoint, int step, CancellationToken cancellation)
    {
        var args = _job.Training;
        string message = args.SaveStrategy == IntervalStrategy.Steps
            ? $"Training in progress, step {step}"
            : $"Training in progress, epoch {(int)(trainer.State.Epoch ?? 0)}";
        // HF copies the checkpoint's model files into the output folder and re-saves the tokenizer and arguments there
        // before uploading it; the same files are taken from the checkpoint here, so the local folder is left as it is.
        var fromCheckpoint = HubFolderFilter.Files(checkpoint, ResumeOnlyFiles);
        var paths = fromCheckpoint.Select(f => f.PathInRepo).ToHashSet(StringComparer.Ordinal);
        var files = HubFolderFilter.Files(args.OutputDir, OutputIgnorePatterns).Where(f => !paths.Contains(f.PathInRepo))
            .Concat(fromCheckpoint)
            .OrderBy(f => f.PathInRepo, StringComparer.Ordinal)
            .ToList();
        await CommitAsync(files, message, cancellation);
        if (args.HubStrategy is HubStrategy.Checkpoint or HubStrategy.AllCheckpoints)
        {
            string folder = args.HubStrategy == HubStrategy.Checkpoint ? "last-checkpoint" : Path.GetFileName(checkpoint);
            await CommitAsync(HubFolderFilter.Files(checkpoint, [], folder), message + ", checkpoint", cancellation);
        }
    }

    /// <summary>
    /// HF's <c>Trainer.push_to_hub(commit_message)</c>, "Model save" after training and "End of training" at the end:
    /// writes the model card (README.md) into the output folder, then uploads the
    /// folder. A failure ends the run only when <paramref name="final"/> (LM054x); before the end it is a warning.
    /// </summary>
    public async Task PushOutputAsync(string message, JobRunner run, Trainer trainer, IReadOnlyDictionary<string, double> metrics,
        bool final, CancellationToken cancellation)
    {
        var args = _job.Training;
        string card = ModelCard.Render(new ModelCard.Facts(
            RepoId.Split('/')[^1], BaseModel(_job.Model.ModelNameOrPath), _job.Data.DatasetName, _job.Data.DatasetConfigName,
            _job.Data.TrainFile, run.Objective, args, metrics, trainer.State.LogHistory));
        await File.WriteAllTextAsync(Path.Combine(args.OutputDir, "README.md"), card, cancellation);
        try
        {
            await CommitAsync(HubFolderFilter.Files(args.OutputDir, OutputIgnorePatterns), message, cancellation);
        }
        catch (LmException failure) when (!final)
        {
            _report(new JobProgress(JobProgressKind.Warning, $"pushing \"{message}\" to {RepoId} failed, the run goes on: {failure.Code}: {failure.Message}"));
        }
        catch (LmException failure)
        {
            throw new LmException(failure.Code,
                $"{failure.Message}. The run itself finished, and its output folder {Path.GetFullPath(args.OutputDir)} is complete and kept",
                failure);
        }
    }

    private async Task CommitAsync(IReadOnlyList<HubUploadFile> files, string message, CancellationToken cancellation)
    {
        HubCommit? commit;
        try
        {
            commit = await _uploader.CommitAsync(RepoId, _revision, files, message, cancellation);
        }
        // A connection dropped while an answer is read, a file that cannot be read, a timeout: a failed push like any
        // other (a warning before the end), not an unexpected failure that would stop training.
        catch (Exception failure) when (failure is HttpRequestException or IOException
            || (failure is OperationCanceledException && !cancellation.IsCancellationRequested))
        {
            throw new LmException(ErrorCodes.HubPushFailed, $"pushing to {RepoId} failed: {failure.Message}", failure);
        }
        if (commit is null) return;
        _report(new JobProgress(JobProgressKind.Info,
            $"pushed {commit.Files.Count.ToString(CultureInfo.InvariantCulture)} file(s) to {RepoId}@{_revision} (\"{message}\"): commit {commit.Oid}"));
    }

    /// <summary>HF's <c>finetuned_from</c>: the model's hub id; none for a local folder or a model drawn from scratch.</summary>
    private static string? BaseModel(string? model) =>
        model is null || Directory.Exists(model) || File.Exists(model) || ModelSource.IsRandomInitPreset(model) ? null : model;

    public void Dispose() => _uploader.Dispose();
}
