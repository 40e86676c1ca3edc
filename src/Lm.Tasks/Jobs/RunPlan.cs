using System.Text.Json;
using System.Text.Json.Nodes;
using Lm.Runtime.Jobs;
using Lm.Runtime.Training;

namespace Lm.Tasks.Jobs;

/// <summary>
/// The fine-tune task's decisions about one job's output folder, apart from running the tool: whether the job is
/// up to date (its stamp records this job's content-addressed <see cref="JobCacheKey"/>), whether an interrupted run
/// resumes or the folder starts over, and what the stamp records when the tool succeeded. Timestamps decide nothing
/// here: a fresh clone with a restored output folder is up to date when its contents are the same.
/// </summary>
internal sealed class RunPlan
{
    private readonly string _name;
    private readonly string _projectDirectory;
    private readonly string _toolVersion;
    private readonly Action<string> _log;
    private readonly ContentHashes _hashes;
    private readonly IReadOnlyList<string> _launchLines;
    private readonly string? _resultDir;

    /// <param name="name">The job (item identity).</param>
    /// <param name="files">The job's files (item metadata JobFile, StampFile, StartedFile, ResumeFile, OutputDir, HashCacheFile).</param>
    /// <param name="projectDirectory">The project folder: paths in the key are relative to it.</param>
    /// <param name="toolVersion">The tool's version (ResolveFineTuneJobs' ToolVersion metadata).</param>
    /// <param name="log">Normal-importance messages.</param>
    /// <param name="launchLines">Lines the launcher adds to the key (<see cref="LaunchSettings.KeyLines"/>).</param>
    /// <param name="resultDir">A result trained elsewhere that the job adopts: its files' contents join the key.</param>
    public RunPlan(string name, Func<string, string> files, string projectDirectory, string toolVersion, Action<string> log,
        IReadOnlyList<string>? launchLines = null, string? resultDir = null)
    {
        _launchLines = launchLines ?? [];
        _resultDir = string.IsNullOrEmpty(resultDir) ? null : resultDir;
        _name = name;
        _projectDirectory = projectDirectory;
        _toolVersion = toolVersion;
        _log = log;
        JobFile = files("JobFile");
        StampFile = files("StampFile");
        StartedFile = files("StartedFile");
        ResumeFile = files("ResumeFile");
        OutputDir = files("OutputDir");
        _hashes = new ContentHashes(files("HashCacheFile") is { Length: > 0 } cache ? cache : null);
    }

    public string JobFile { get; }
    public string StampFile { get; }
    public string StartedFile { get; }
    public string ResumeFile { get; }
    public string OutputDir { get; }

    /// <summary>The job's key now (the hub commit pinned by the last stamp stands in for a hub cache this machine lacks).</summary>
    public string CacheKey() =>
        JobCacheKey.Compute([.. JobCacheKey.Lines(File.ReadAllText(JobFile), _projectDirectory, _toolVersion, _hashes, CompletionStamp.ReadModelCommit(StampFile)), .. LaunchLines()]);

    /// <summary>The launcher's lines, and for an adopted result each of its files by path inside it and content.</summary>
    private IEnumerable<string> LaunchLines()
    {
        foreach (string line in _launchLines) yield return line;
        if (_resultDir is null || !Directory.Exists(_resultDir)) yield break;
        string folder = _resultDir.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar) + Path.DirectorySeparatorChar;
        foreach (string file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            yield return $"result {file.Substring(folder.Length).Replace('\\', '/')} {_hashes.Sha256(file)}";
    }

    /// <summary>
    /// True when the stamp records this job's key: nothing the job depends on changed, whatever the files' times. The
    /// stamp is then touched, so that MSBuild's own Inputs/Outputs check skips the target on the next build.
    /// </summary>
    public bool IsUpToDate()
    {
        string? recorded = CompletionStamp.ReadCacheKey(StampFile);
        if (recorded is null) return false;
        string key = CacheKey();
        _hashes.Save();
        if (recorded != key) return false;
        File.SetLastWriteTimeUtc(StampFile, DateTime.UtcNow);
        return true;
    }

    /// <summary>What <see cref="Prepare"/> decided.</summary>
    public sealed record Decision(string? ConfigFile, string? Resumed, bool NotOwned);

    /// <summary>
    /// Chooses between resuming and starting over. A run interrupted before completion (no stamp) resumes from its
    /// newest complete checkpoint when nothing it depends on changed since it started (same key). Otherwise the output
    /// folder is emptied, but only when lm-tune created it for this job (it carries this job's
    /// <see cref="OutputFolderMarker"/> for this path); an empty or missing folder is used and marked; a folder holding
    /// anything else is not touched (<see cref="Decision.NotOwned"/>, LM2020).
    /// </summary>
    public Decision Prepare(string markerVersion)
    {
        string runKey = CacheKey();
        _hashes.Save();
        // An adoption copies the whole result again; only training resumes.
        bool interrupted = _resultDir is null && !File.Exists(StampFile) && File.Exists(StartedFile) && File.ReadAllText(StartedFile).Trim() == runKey;
        string? lastCheckpoint = interrupted ? LastCheckpoint() : null;
        if (lastCheckpoint is null)
        {
            var ownership = OutputFolderMarker.Check(OutputDir, _projectDirectory, _name);
            if (ownership == OutputFolderMarker.Ownership.Foreign) return new Decision(null, null, NotOwned: true);
            if (ownership == OutputFolderMarker.Ownership.Owned)
            {
                _log($"{_name}: starting over; deleting the previous run's folder {OutputDir}");
                Directory.Delete(OutputDir, recursive: true);
            }
            OutputFolderMarker.Write(OutputDir, _projectDirectory, _name, markerVersion);
            AtomicFile.WriteAllText(StartedFile, runKey);
            return new Decision(JobFile, null, NotOwned: false);
        }
        var job = JsonNode.Parse(File.ReadAllText(JobFile))!.AsObject();
        job["resume_from_checkpoint"] = lastCheckpoint;
        AtomicFile.WriteAllText(ResumeFile, job.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return new Decision(ResumeFile, lastCheckpoint, NotOwned: false);
    }

    /// <summary>Writes the stamp after the tool succeeded: the key as it is now (a hub model is resolved now) and the tool's results.</summary>
    public void Complete(JsonObject results)
    {
        string jobJson = File.ReadAllText(JobFile);
        var job = JsonNode.Parse(jobJson) as JsonObject ?? new JsonObject();
        string? commit = job["model_name_or_path"] is JsonValue m && m.GetValueKind() == JsonValueKind.String
            ? JobCacheKey.HubCommit(job, m.GetValue<string>(), _projectDirectory, pinnedCommit: null)
            : null;
        if (commit is not null && commit.StartsWith("unresolved:", StringComparison.Ordinal)) commit = null;
        string key = JobCacheKey.Compute([.. JobCacheKey.Lines(jobJson, _projectDirectory, _toolVersion, _hashes, commit), .. LaunchLines()]);
        _hashes.Save();
        CompletionStamp.Write(StampFile, key, commit, results);
    }

    /// <summary>
    /// The newest complete checkpoint, by the engine's own rule (<see cref="CheckpointFolders"/>, compiled into the
    /// tasks from the engine's source): a newer folder whose save was cut short is passed over and reported.
    /// </summary>
    private string? LastCheckpoint()
    {
        string? last = CheckpointFolders.LastComplete(OutputDir, out var skipped);
        foreach (var (path, reason) in skipped)
            _log($"{_name}: ignored incomplete checkpoint {path}: {reason}");
        return last;
    }
}
