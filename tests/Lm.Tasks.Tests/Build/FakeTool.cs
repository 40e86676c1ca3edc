namespace Lm.Tasks.Tests.Build;

/// <summary>
/// A shell script honouring lm-tune's command-line contract (<c>train --config JOB --json</c>: progress on stderr, one
/// JSON object on stdout, <c>error LM####:</c> lines and exit 1 on failure), used where the tests check the task's
/// process handling: streaming, error mapping, cancellation, locking. The real tool has its own end-to-end test.
/// Controlled by environment variables: FAKE_FAIL (report LM0403 and exit 1), FAKE_CRASH (exit 134 after a line
/// that is no LM error, as a crashed runtime would), FAKE_VERSION (what --version prints; default this Lm.Build's version), FAKE_SLEEP (seconds; the wait runs in a
/// child process, and both pids are written to tool.pid and sleep.pid, for the cancellation test).
/// </summary>
internal static class FakeTool
{
    public const string FileName = "fake-lm-tune.sh";
    public const string CallLog = "tool-calls.log";

    private const string Script = """
        #!/usr/bin/env bash
        # lm-tune's contract, faked: train --config JOB --json [--verbosity detailed]
        here="$(cd "$(dirname "$0")" && pwd)"
        if [ "$1" = "--version" ]; then echo "${FAKE_VERSION:-@VERSION@}"; exit 0; fi
        config="$3"
        echo "$*" >> "$here/tool-calls.log"
        out=$(grep -o '"output_dir": *"[^"]*"' "$config" | sed 's/.*: *"\(.*\)"/\1/')
        echo "model: tiny-gpt2 (gpt2, clm)" >&2
        echo "train: 2 steps" >&2
        echo "train: 1 loss=3.2104 lr=5e-05" >&2
        if [ -n "$FAKE_SLEEP" ]; then
          echo $$ > "$here/tool.pid"
          sleep "$FAKE_SLEEP" &
          echo $! > "$here/sleep.pid"
          wait
        fi
        if [ -n "$FAKE_CRASH" ]; then
          echo "Fatal error. Internal CLR error. (0x80131506)" >&2
          exit 134
        fi
        if [ -n "$FAKE_FAIL" ]; then
          echo "error LM0403: learning_rate expects a number, got 'fast'" >&2
          exit 1
        fi
        mkdir -p "$out/checkpoint-2"
        echo '{"model_type": "gpt2"}' > "$out/config.json"
        echo 'weights' > "$out/model.safetensors"
        echo '{"train_loss": 3.1}' > "$out/all_results.json"
        echo "train: 2 loss=3.0012 lr=0.0" >&2
        echo "train: done in 0.1 s" >&2
        printf '{\n  "output_dir": "%s",\n  "train_loss": 3.1,\n  "eval_loss": 2.9,\n  "perplexity": 18.17\n}\n' "$out"
        """;

    public static void WriteTo(string folder)
    {
        string path = Path.Combine(folder, FileName);
        // It answers --version as the lm-tune of this Lm.Build does (FAKE_VERSION: as another version would).
        File.WriteAllText(path, Script.Replace("\r\n", "\n").Replace("@VERSION@", Lm.Tasks.Tooling.ToolVersion.Own) + "\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }
}
