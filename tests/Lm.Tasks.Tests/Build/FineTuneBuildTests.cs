using System.Text.RegularExpressions;
using Lm.Testing;
using Xunit.Abstractions;

namespace Lm.Tasks.Tests.Build;

/// <summary>
/// The fine-tune step in real <c>dotnet build</c> runs of temporary projects, with a stand-in for lm-tune that
/// honours its command-line contract (see <see cref="FakeTool"/>).
/// </summary>
[Collection(BuildCollection.Name)]
[Trait("Category", "Build")]
public sealed class FineTuneBuildTests(ITestOutputHelper output)
{
    private const string Job = """<LanguageModelFineTune Include="job1" Model="tiny-gpt2" TrainFile="train.txt" LearningRate="1e-4" CopyToOutputDirectory="PreserveNewest" />""";

    private static void Succeeded(DotnetRun run) => Assert.True(run.ExitCode == 0, run.ToString());

    [Fact]
    public void Trains_once_then_skips_until_an_input_changes_and_clean_removes_the_outputs()
    {
        using var project = new TempProject(Job);
        string normalLog = project.PathOf("normal.log"), detailedLog = project.PathOf("detailed.log");

        var first = project.Build("-v:m", "-fl", $"-flp:logfile={normalLog};verbosity=normal",
            "-fl1", $"-flp1:logfile={detailedLog};verbosity=detailed");
        Succeeded(first);
        Assert.Equal(1, project.ToolRuns);
        Assert.True(File.Exists(project.PathOf("obj/lm/job1/.lm-complete")));
        Assert.True(File.Exists(project.PathOf("obj/lm/job1/.lm-tune-output.json")));
        Assert.Equal("weights\n", File.ReadAllText(project.PathOf("bin/Debug/net10.0/job1/model.safetensors")));
        Assert.Contains("\"learning_rate\": 0.0001", File.ReadAllText(project.PathOf("obj/lm/job1.job.json")));
        Assert.Contains("job1: fine-tuned in", first.Output);
        Assert.Contains("train_loss 3.1, eval_loss 2.9, perplexity 18.17", first.Output);
        string normal = File.ReadAllText(normalLog), detailed = File.ReadAllText(detailedLog);
        Assert.Contains("job1: train: 2 steps", normal);
        Assert.DoesNotContain("train: 1 loss=3.2104", normal);
        Assert.Contains("job1: train: 1 loss=3.2104", detailed);

        var second = project.Build("--no-restore", "-v:d");
        Succeeded(second);
        Assert.Contains("Skipping target \"LmFineTune\" because all output files are up-to-date with respect to the input files.", second.Output);
        Assert.Equal(1, project.ToolRuns);

        // The cost of an up-to-date fine-tune step: the time MSBuild spent in its targets, and the wall-clock difference
        // to the same build with LmSkipFineTune=true (best of two each; noisy on a shared machine, so reported only).
        var upToDate = new List<TimeSpan>();
        var skipped = new List<TimeSpan>();
        var targetTimes = new List<double>();
        for (int i = 0; i < 2; i++)
        {
            var run = project.Build("--no-restore", "-v:q", "-clp:PerformanceSummary");
            Succeeded(run);
            upToDate.Add(run.Elapsed);
            targetTimes.Add(FineTuneTargetSeconds(run.Output));
            var skip = project.Build("--no-restore", "-v:q", "-p:LmSkipFineTune=true");
            Succeeded(skip);
            skipped.Add(skip.Elapsed);
        }
        double added = (upToDate.Min() - skipped.Min()).TotalSeconds;
        output.WriteLine($"up-to-date builds: {string.Join(", ", upToDate.Select(t => $"{t.TotalSeconds:0.00} s"))}; " +
            $"with LmSkipFineTune=true: {string.Join(", ", skipped.Select(t => $"{t.TotalSeconds:0.00} s"))}; " +
            $"wall-clock difference {added:0.00} s; fine-tune targets {string.Join(", ", targetTimes.Select(t => $"{t:0.000} s"))}");
        // What makes an up-to-date build cheap is counted, not timed (a clock fails on a busy 2-core machine): the
        // tool did not start again and MSBuild skipped the target (asserted above); the times are reported only.
        Assert.Equal(1, project.ToolRuns);

        project.EditProject("LearningRate=\"1e-4\"", "LearningRate=\"2e-4\"");
        Succeeded(project.Build("--no-restore", "-v:m"));
        Assert.Equal(2, project.ToolRuns);
        Assert.Contains("\"learning_rate\": 0.0002", File.ReadAllText(project.PathOf("obj/lm/job1.job.json")));

        // Up to date is by content: a newer time alone trains nothing, one changed byte retrains.
        File.SetLastWriteTimeUtc(project.PathOf("train.txt"), DateTime.UtcNow.AddSeconds(1));
        var touched = project.Build("--no-restore", "-v:n");
        Succeeded(touched);
        Assert.Equal(2, project.ToolRuns);
        Assert.Contains("job1: up to date", touched.Output);
        File.WriteAllText(project.PathOf("train.txt"), File.ReadAllText(project.PathOf("train.txt")).Replace("324", "325"));
        var retrained = project.Build("--no-restore", "-v:n");
        Succeeded(retrained);
        Assert.Equal(3, project.ToolRuns);
        Assert.DoesNotContain("resuming", retrained.Output);

        Succeeded(project.Dotnet(["clean", "-v:m"]));
        Assert.False(Directory.Exists(project.PathOf("obj/lm/job1")));
        Assert.False(File.Exists(project.PathOf("obj/lm/job1.job.json")));
        Assert.False(Directory.Exists(project.PathOf("bin/Debug/net10.0/job1")));
    }

    [Fact]
    public void A_fresh_clone_with_the_restored_cache_trains_nothing_and_one_changed_byte_retrains()
    {
        using var first = new TempProject(Job);
        Succeeded(first.Build("-v:m"));
        Assert.Equal(1, first.ToolRuns);
        string stamp = File.ReadAllText(first.PathOf("obj/lm/job1/.lm-complete"));
        Assert.Contains("\"cache_key\"", stamp);
        Assert.Contains("\"save_total_limit\": 1", File.ReadAllText(first.PathOf("obj/lm/job1.job.json")));

        // CI: a new agent checks the project out elsewhere (every source file new), then restores obj/lm from the
        // cache (actions/cache and Cache@2 restore the files' archived, older times).
        using var clone = new TempProject(Job);
        string restored = clone.PathOf("obj/lm");
        foreach (string file in Directory.EnumerateFiles(first.PathOf("obj/lm"), "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(restored, Path.GetRelativePath(first.PathOf("obj/lm"), file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
            File.SetLastWriteTimeUtc(target, DateTime.UtcNow.AddDays(-1));
        }
        var second = clone.Build("-v:n");
        Succeeded(second);
        Assert.Equal(0, clone.ToolRuns);
        Assert.Contains("job1: up to date", second.Output);
        Assert.Equal("weights\n", File.ReadAllText(clone.PathOf("bin/Debug/net10.0/job1/model.safetensors")));

        // One byte of the data changes: the key changes, the job trains again (into the restored folder, still lm-tune's).
        File.WriteAllText(clone.PathOf("train.txt"), File.ReadAllText(clone.PathOf("train.txt")).Replace("324", "325"));
        var third = clone.Build("--no-restore", "-v:n");
        Succeeded(third);
        Assert.Equal(1, clone.ToolRuns);
        Assert.NotEqual(stamp, File.ReadAllText(clone.PathOf("obj/lm/job1/.lm-complete")));
    }

    [Fact]
    public void A_users_folder_named_as_OutputDir_is_refused_with_LM2020_and_neither_build_nor_clean_touches_it()
    {
        using var project = new TempProject(Job.Replace("/>", "OutputDir=\"USER_DIR\" />"));
        string user = Directory.CreateTempSubdirectory("lm-user-models-").FullName;
        string empty = Directory.CreateTempSubdirectory("lm-user-empty-").FullName;
        try
        {
            // A user's folder outside the project, e.g. OutputDir="$(HOME)/models".
            File.WriteAllText(Path.Combine(user, "notes.txt"), "my notes\n");
            Directory.CreateDirectory(Path.Combine(user, "old-model"));
            File.WriteAllBytes(Path.Combine(user, "old-model", "model.safetensors"), [1, 2, 3, 4]);
            File.WriteAllText(Path.Combine(user, ".settings"), "hidden");
            project.EditProject("USER_DIR", user);
            var before = Snapshot(user);

            var build = project.Build("-v:m");
            Assert.NotEqual(0, build.ExitCode);
            Assert.Matches($@"{Regex.Escape(project.ProjectFile)}\({project.LineOf("Include=\"job1\"")},\d+\): error LM2020: job1: OutputDir '{Regex.Escape(user)}/?' is not empty and was not created by lm-tune", build.Output);
            Assert.Equal(0, project.ToolRuns);
            Assert.Equal(before, Snapshot(user));

            Succeeded(project.Dotnet(["clean", "-v:m"]));
            Assert.Equal(before, Snapshot(user));

            // An empty folder is used and marked; the build's files (the marker included) are then its to delete.
            project.EditProject(user, empty);
            Succeeded(project.Build("-v:m"));
            Assert.Equal(1, project.ToolRuns);
            Assert.Contains("\"job\": \"job1\"", File.ReadAllText(Path.Combine(empty, ".lm-tune-output.json")));
            Assert.True(File.Exists(project.PathOf("bin/Debug/net10.0/job1/model.safetensors")));
            Assert.False(File.Exists(project.PathOf("bin/Debug/net10.0/job1/.lm-tune-output.json")));
            Succeeded(project.Dotnet(["clean", "-v:m"]));
            Assert.False(Directory.Exists(empty));
        }
        finally
        {
            Directory.Delete(user, recursive: true);
            if (Directory.Exists(empty)) Directory.Delete(empty, recursive: true);
        }
    }

    [Fact]
    public void An_interrupted_build_resumes_from_the_newest_complete_checkpoint()
    {
        using var project = new TempProject(Job);
        var failed = project.Dotnet(["build", "-v:m"], new Dictionary<string, string> { ["FAKE_FAIL"] = "1" });
        Assert.NotEqual(0, failed.ExitCode);
        string output = project.PathOf("obj/lm/job1");
        // What the interrupted run left: a complete checkpoint-2, a newer checkpoint-4 whose weights were cut short
        // after its marker was written, a checkpoint-5 whose save never finished, and a name that is no step number.
        Checkpoint(Path.Combine(output, "checkpoint-2"), "weights", 7);
        Checkpoint(Path.Combine(output, "checkpoint-4"), "wei", 7);
        Directory.CreateDirectory(Path.Combine(output, "checkpoint-5"));
        Checkpoint(Path.Combine(output, "checkpoint-99999999999999999999"), "weights", 7);

        var resumed = project.Build("-v:n");

        Succeeded(resumed);
        Assert.Contains($"job1: resuming the interrupted run from {Path.Combine(output, "checkpoint-2")}", resumed.Output);
        Assert.Contains("job1: ignored incomplete checkpoint", resumed.Output);
        Assert.EndsWith("job1.resume.json --json --verbosity detailed", File.ReadAllLines(project.PathOf(FakeTool.CallLog))[^1]);
        Assert.Contains($"\"resume_from_checkpoint\": \"{Path.Combine(output, "checkpoint-2")}\"", File.ReadAllText(project.PathOf("obj/lm/job1.resume.json")));
    }

    /// <summary>A checkpoint folder whose marker records <paramref name="recordedSize"/> bytes of weights.</summary>
    private static void Checkpoint(string folder, string weights, int recordedSize)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "model.safetensors"), weights);
        File.WriteAllText(Path.Combine(folder, "checkpoint_complete.json"), "{\"global_step\": 2, \"files\": {\"model.safetensors\": " + recordedSize + "}}");
    }

    /// <summary>Every file and folder under <paramref name="root"/> with its content's hash, hidden ones included.</summary>
    private static SortedDictionary<string, string> Snapshot(string root)
    {
        var all = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 };
        var entries = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (string dir in Directory.EnumerateDirectories(root, "*", all)) entries[Path.GetRelativePath(root, dir) + "/"] = "";
        foreach (string file in Directory.EnumerateFiles(root, "*", all))
            entries[Path.GetRelativePath(root, file)] = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(file)));
        return entries;
    }

    [Fact]
    public void Each_bad_item_is_an_error_with_its_code_at_its_line()
    {
        using var project = new TempProject("""
                <LanguageModelFineTune Include="no-model" TrainFile="train.txt" />
                <LanguageModelFineTune Include="no-train" Model="tiny-gpt2" />
                <LanguageModelFineTune Include="missing-data" Model="tiny-gpt2" TrainFile="missing.txt" />
                <LanguageModelFineTune Include="no-class" Model="tiny-gpt2" TrainFile="train.txt" Config="NoSuchConfig" />
                <LanguageModelFineTune Include="bad-type" Model="tiny-gpt2" TrainFile="train.txt" LearningRate="fast" />
                <LanguageModelFineTune Include="twice" Model="tiny-gpt2" TrainFile="train.txt" />
                <LanguageModelFineTune Include="twice" Model="tiny-gpt2" TrainFile="train.txt" BlockSize="64" />
                <LanguageModelFineTune Include="first" Model="tiny-gpt2" TrainFile="train.txt" OutputDir="obj/lm/shared/" />
                <LanguageModelFineTune Include="second" Model="tiny-gpt2" TrainFile="train.txt" OutputDir="obj/lm/shared/inner/" />
                <LanguageModelFineTune Include="in-sources" Model="tiny-gpt2" TrainFile="train.txt" OutputDir="models/in-sources/" />
                <LanguageModelFineTune Include="typo" Model="tiny-gpt2" TrainFile="train.txt" LearningRat="0.1" />
            """);
        var run = project.Build("-v:m");
        Assert.NotEqual(0, run.ExitCode);
        var expected = new[]
        {
            ("error", "LM2001", "\"no-model\""), ("error", "LM2002", "\"no-train\""), ("error", "LM2003", "\"missing-data\""),
            ("error", "LM2004", "\"no-class\""), ("error", "LM2005", "LearningRate=\"fast\""),
            ("error", "LM2006", "BlockSize=\"64\""), ("error", "LM2007", "\"second\""), ("error", "LM2008", "\"in-sources\""),
            ("warning", "LM2012", "LearningRat="),
        };
        foreach (var (kind, code, lineText) in expected)
        {
            var match = Regex.Match(run.Output, $@"{Regex.Escape(project.ProjectFile)}\((\d+),(\d+)\): {kind} {code}: ");
            Assert.True(match.Success, $"no {kind} {code} at the project file in:\n{run.Output}");
            Assert.Equal(project.LineOf(lineText), int.Parse(match.Groups[1].Value));
        }
        Assert.Equal(0, project.ToolRuns);
    }

    [Fact]
    public void Tool_error_becomes_a_build_error_at_the_item()
    {
        using var project = new TempProject(Job);
        var run = project.Dotnet(["build", "-v:m"], new Dictionary<string, string> { ["FAKE_FAIL"] = "1" });
        Assert.NotEqual(0, run.ExitCode);
        Assert.Matches($@"{Regex.Escape(project.ProjectFile)}\({project.LineOf("Include=\"job1\"")},\d+\): error LM0403: job1: learning_rate expects a number, got 'fast'", run.Output);
        Assert.False(File.Exists(project.PathOf("obj/lm/job1/.lm-complete")));
    }

    [Fact]
    public void A_tool_that_fails_without_an_LM_error_is_LM2011_with_its_last_lines()
    {
        using var project = new TempProject(Job);
        var run = project.Dotnet(["build", "-v:m"], new Dictionary<string, string> { ["FAKE_CRASH"] = "1" });
        Assert.NotEqual(0, run.ExitCode);
        Assert.Matches($@"{Regex.Escape(project.ProjectFile)}\({project.LineOf("Include=\"job1\"")},\d+\): error LM2011: job1: lm-tune exited with code 134 without reporting an error", run.Output);
        Assert.Contains("Internal CLR error", run.Output);
        Assert.False(File.Exists(project.PathOf("obj/lm/job1/.lm-complete")));
    }

    [Fact]
    public void A_tool_path_that_does_not_exist_is_LM2009()
    {
        using var project = new TempProject(Job);
        var run = project.Build("-v:m", "-p:LmToolPath=no-such-lm-tune.sh");
        Assert.NotEqual(0, run.ExitCode);
        Assert.Matches(@"error LM2009: LmToolPath 'no-such-lm-tune.sh' does not exist", run.Output);
        Assert.Equal(0, project.ToolRuns);
    }

    [Fact]
    public void Build_waits_for_another_build_holding_the_job_lock_then_fails_with_LM2010()
    {
        using var project = new TempProject(Job);
        Directory.CreateDirectory(project.PathOf("obj/lm"));
        using (new FileStream(project.PathOf("obj/lm/job1.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            var run = project.Build("-v:m", "-p:LmLockTimeoutSeconds=2");
            Assert.NotEqual(0, run.ExitCode);
            Assert.Contains("job1: another build is fine-tuning this job; waiting up to 2 s", run.Output);
            Assert.Matches(@"error LM2010: job1: another build held the lock", run.Output);
        }
        Assert.Equal(0, project.ToolRuns);
    }

    [Fact]
    public void Cancelling_the_build_kills_the_tool_and_its_children()
    {
        using var project = new TempProject(Job);
        Succeeded(project.Dotnet(["restore"]));
        using var build = project.Start(["build", "--no-restore", "-v:n"], new Dictionary<string, string> { ["FAKE_SLEEP"] = "300" });
        var log = new System.Text.StringBuilder();
        build.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        build.BeginOutputReadLine();
        build.BeginErrorReadLine();
        int toolPid = WaitForPid(project.PathOf("tool.pid"), build);
        int sleepPid = WaitForPid(project.PathOf("sleep.pid"), build);
        Assert.True(IsRunning(toolPid) && IsRunning(sleepPid));

        // What Ctrl+C does to `dotnet build`.
        using (var kill = System.Diagnostics.Process.Start("kill", ["-INT", build.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) kill.WaitForExit();
        Assert.True(build.WaitForExit(TimeSpan.FromSeconds(60)), "the build did not stop after SIGINT");
        build.WaitForExit();
        output.WriteLine(log.ToString());
        Assert.NotEqual(0, build.ExitCode);
        Assert.False(IsRunning(toolPid), "the lm-tune process outlived the cancelled build");
        Assert.False(IsRunning(sleepPid), "a child of lm-tune outlived the cancelled build");
        string text;
        lock (log) text = log.ToString();
        Assert.Contains("error LM2013: job1: fine-tuning was cancelled", text);
        Assert.False(File.Exists(project.PathOf("obj/lm/job1/.lm-complete")));
    }

    /// <summary>The time of the Lm* targets in MSBuild's performance summary.</summary>
    private static double FineTuneTargetSeconds(string buildOutput)
    {
        var targets = Regex.Matches(buildOutput, @"^\s*(\d+) ms\s+(Lm\w+)\s+\d+ calls", RegexOptions.Multiline);
        Assert.Contains(targets, m => m.Groups[2].Value == "LmFineTune");
        return targets.Sum(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)) / 1000.0;
    }

    private static int WaitForPid(string file, System.Diagnostics.Process build)
    {
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (DateTime.UtcNow < deadline && !build.HasExited)
        {
            if (File.Exists(file) && int.TryParse(File.ReadAllText(file).Trim(), out int pid)) return pid;
            Thread.Sleep(100);
        }
        throw new TimeoutException($"{file} never appeared (build exited: {build.HasExited})");
    }

    /// <summary>Alive and not a zombie (an orphan may wait for a reaper that a container's init never runs).</summary>
    private static bool IsRunning(int pid)
    {
        string stat = $"/proc/{pid}/stat";
        if (!File.Exists(stat)) return false;
        try
        {
            string text = File.ReadAllText(stat);
            return text[(text.LastIndexOf(')') + 2)] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }
}
