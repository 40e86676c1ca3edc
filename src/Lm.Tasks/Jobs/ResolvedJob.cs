using System.Security.Cryptography;
using System.Text;

namespace Lm.Tasks.Jobs;

/// <summary>
/// A validated job: its resolved configuration (flat JSON, HF names, absolute paths) and the files the build keeps
/// for it. Everything but the output folder lives in the job root (<c>obj/lm/</c>), keyed by the job name.
/// </summary>
internal sealed record ResolvedJob(
    string Name,
    string JobJson,
    string JobRoot,
    string OutputDir,
    IReadOnlyList<string> InputFiles,
    ItemLocation Location,
    string CopyToOutputDirectory)
{
    /// <summary>The resolved configuration passed to <c>lm-tune train --config</c>; rewritten only when its content changes.</summary>
    public string JobFile => Path.Combine(JobRoot, Name + ".job.json");

    /// <summary>Written when training (or the export, in its folder) succeeded: the hash of the job it ran and the tool's results.</summary>
    public string StampFile => Path.Combine(Launch.IsExport ? Launch.ExportDir : OutputDir, CompletionStamp.FileName);

    /// <summary>Train, export, or adopt a result trained elsewhere (<see cref="LaunchSettings"/>).</summary>
    public LaunchSettings Launch { get; init; } = new();

    /// <summary>The key (job hash + input files) of the run that left the output folder's content; decides between resuming and starting over.</summary>
    public string StartedFile => Path.Combine(JobRoot, Name + ".started");

    /// <summary>The job plus <c>resume_from_checkpoint</c>, when an interrupted run of the same job resumes.</summary>
    public string ResumeFile => Path.Combine(JobRoot, Name + ".resume.json");

    /// <summary>The file name of the job root's remembered content hashes (see <see cref="Lm.Runtime.Jobs.ContentHashes"/>).</summary>
    public const string ContentHashFileName = ".lm-content-hashes.json";

    /// <summary>The inputs' content hashes, remembered by size and time, shared by the project's jobs.</summary>
    public string HashCacheFile => Path.Combine(JobRoot, ContentHashFileName);

    /// <summary>Held (FileShare.None) while a build trains this job, so concurrent builds never share an output folder.</summary>
    public string LockFile => Path.Combine(JobRoot, Name + ".lock");

    /// <summary>True when the item and its class left save_total_limit unset and the build's default (1) applies.</summary>
    public bool DefaultedSaveTotalLimit { get; init; }

    /// <summary>SHA-256 of <see cref="JobJson"/>, lowercase hex.</summary>
    public string JobHash { get; } = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(JobJson)));

    /// <summary>
    /// Writes <c>NAME.launch.txt</c> in the job root unless it already holds the same text: the launch settings of an
    /// export (not part of the job file) and the listing (path, size, time) of an adopted ResultDir. As an input of the
    /// fine-tune target it makes a changed setting export again and a deleted result file adopt again (MSBuild alone
    /// compares only the files that exist). Returns its path, or null for a job that is simply trained.
    /// </summary>
    public string? WriteLaunchFileIfChanged()
    {
        if (!Launch.IsExport && Launch.ResultDir is null) return null;
        string file = Path.Combine(JobRoot, Name + ".launch.txt");
        var text = new StringBuilder();
        foreach (string line in Launch.KeyLines()) text.Append(line).Append('\n');
        if (Launch.ResultDir is { } resultDir)
        {
            string folder = resultDir.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar) + Path.DirectorySeparatorChar;
            foreach (var info in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Select(f => new FileInfo(f)))
                text.Append(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"result {info.FullName.Substring(folder.Length)} {info.Length} {info.LastWriteTimeUtc.Ticks}\n"));
        }
        if (!File.Exists(file) || File.ReadAllText(file) != text.ToString()) AtomicFile.WriteAllText(file, text.ToString());
        return file;
    }

    /// <summary>
    /// Writes <see cref="JobFile"/> unless it already holds the same text, so its timestamp changes only with its
    /// content and can serve as an incremental build input. Returns whether it wrote.
    /// </summary>
    public bool WriteJobFileIfChanged()
    {
        if (File.Exists(JobFile) && File.ReadAllText(JobFile) == JobJson) return false;
        AtomicFile.WriteAllText(JobFile, JobJson);
        return true;
    }
}
