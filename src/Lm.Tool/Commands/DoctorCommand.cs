using System.CommandLine;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Lm.Runtime.Errors;
using Lm.Runtime.Hub;
using Lm.Runtime.Native;
using Lm.Tool.Cli;
using TorchSharp;

namespace Lm.Tool.Commands;

/// <summary>
/// <c>lm-tune doctor</c>: what this machine offers and why something does not work. Platform and cache lines
/// come first and are written before libtorch is touched, so they appear even when loading it fails or crashes.
/// </summary>
internal static class DoctorCommand
{
    public static Command Create(LmTuneApp app)
    {
        var command = new Command("doctor", "Show the platform, the libtorch load trace, CUDA availability, threads and cache locations");
        app.SetAction(command, invocation => Task.FromResult(Run(invocation.Output)));
        return command;
    }

    private static CommandResult Run(CliOutput output)
    {
        var json = new JsonObject();
        void Line(string name, string value)
        {
            if (output.Json) return;
            output.Out.WriteLine($"{name,-14} {value}");
            output.Out.Flush();
        }

        string version = typeof(DoctorCommand).Assembly.GetName().Version?.ToString(3) ?? "?";
        json["version"] = version;
        json["os"] = RuntimeInformation.OSDescription;
        json["architecture"] = RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
        json["dotnet"] = RuntimeInformation.FrameworkDescription;
        json["processor_count"] = Environment.ProcessorCount;
        Line("lm-tune", version);
        Line("os", $"{RuntimeInformation.OSDescription} ({RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant()})");
        Line(".NET", RuntimeInformation.FrameworkDescription);
        Line("cores", Environment.ProcessorCount.ToString());

        var hub = HubSettings.FromEnvironment();
        var caches = new JsonObject
        {
            ["lm_tune_cache"] = TorchRuntime.CacheRoot,
            ["hf_home"] = HubSettings.HfHome,
            ["hub_cache"] = hub.CacheDir,
            ["hf_endpoint"] = hub.Endpoint,
            ["hf_hub_offline"] = hub.Offline,
            ["hf_token_set"] = hub.Token is not null,
        };
        json["caches"] = caches;
        Line("lm-tune cache", TorchRuntime.CacheRoot + Source("LM_TUNE_CACHE"));
        Line("HF_HOME", HubSettings.HfHome + Source("HF_HOME"));
        Line("hub cache", hub.CacheDir + Source("HF_HUB_CACHE"));
        Line("hub endpoint", hub.Endpoint + (hub.Offline ? " (offline: HF_HUB_OFFLINE is set)" : "") + (hub.Token is not null ? " (token set)" : ""));

        var torchJson = new JsonObject();
        json["torch"] = torchJson;
        try
        {
            TorchRuntime.EnsureLoaded();
        }
        catch (LmException e)
        {
            torchJson["loaded"] = false;
            torchJson["error"] = e.Message;
            torchJson["trace"] = Trace();
            Line("libtorch", "NOT LOADED");
            foreach (string line in TraceLines()) Line("", line);
            // --json: one object on stdout, the doctor's own, with the error in it.
            string firstLine = e.Message.Split('\n')[0].TrimEnd();
            json["error"] = new JsonObject { ["code"] = e.Code, ["message"] = firstLine };
            output.Error(e.Code, firstLine, json: false);
            return new CommandResult(json, _ => { }, ExitCodes.Failure);
        }
        torchJson["loaded"] = true;
        torchJson["version"] = torch.__version__;
        torchJson["trace"] = Trace();
        torchJson["threads"] = torch.get_num_threads();
        Line("libtorch", $"loaded (libtorch {torch.__version__})");
        foreach (string line in TraceLines()) Line("", line);
        Line("threads", $"{torch.get_num_threads()} torch threads on {Environment.ProcessorCount} cores" + Source("OMP_NUM_THREADS"));
        bool? fromHeap = HeapTuning.LargeBuffersComeFromHeap();
        torchJson["large_buffers_from_heap"] = fromHeap;
        Line("large buffers", fromHeap switch
        {
            true => "from the heap on the command thread",
            false => "mapped and zeroed anew on each allocation on the command thread (slower steps; see MALLOC_* settings)",
            null => "allocator not inspected (not glibc)",
        });

        bool cuda = torch.cuda.is_available();
        string? whyNot = cuda ? null : CudaUnavailableReason();
#if LM_CUDA
        IReadOnlyList<string> missing = cuda ? Array.Empty<string>() : CudaRequirements.Missing(cudaBackend: true);
#else
        IReadOnlyList<string> missing = CudaRequirements.Missing(cudaBackend: false);
#endif
        json["cuda"] = new JsonObject
        {
            ["available"] = cuda,
            ["device_count"] = cuda ? torch.cuda.device_count() : 0,
            ["reason"] = whyNot,
            ["missing"] = new JsonArray(missing.Select(m => (JsonNode?)JsonValue.Create(m)).ToArray()),
            ["driver"] = CudaRequirements.DriverVersion(),
        };
        Line("cuda", cuda ? $"available ({torch.cuda.device_count()} device(s))" : "not available: " + whyNot);
        foreach (string need in missing) Line("", "needs " + need);
        return new CommandResult(json, _ => { });
    }

    /// <summary>The load trace as display lines: loader messages can span several lines.</summary>
    private static IEnumerable<string> TraceLines() =>
        TorchRuntime.LoadTrace.SelectMany(l => l.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));

    private static JsonArray Trace() => new(TorchRuntime.LoadTrace.Select(l => (JsonNode?)JsonValue.Create(l)).ToArray());

    private static string CudaUnavailableReason()
    {
#if LM_CUDA
        if (OperatingSystem.IsLinux() && !File.Exists("/proc/driver/nvidia/version"))
            return "no NVIDIA driver is loaded (/proc/driver/nvidia/version is missing)";
        return "libtorch found no usable CUDA device (check the driver version against the CUDA libtorch package)";
#else
        return "this lm-tune carries the CPU libtorch backend; what a CUDA run needs is listed below";
#endif
    }

    private static string Source(string variable) =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } ? $"  (from ${variable})" : "";
}
