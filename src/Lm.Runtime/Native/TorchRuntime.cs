using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Native;

/// <summary>
/// Loads TorchSharp's native bridge before TorchSharp does, so that the product runs on systems whose C++
/// runtime is older than the one the bridge was linked against (Debian 12, Ubuntu 22.04 with TorchSharp 0.107).
/// When the bridge fails only for missing optional symbol versions, a patched private copy is written
/// (new file + rename; the package's file, which may be a hard link into the NuGet cache, is never touched)
/// and loaded from the cache folder. Loading it first makes later loads of the same soname resolve to it.
/// </summary>
public static partial class TorchRuntime
{
    private static readonly object Gate = new();
    private static readonly List<string> TraceLines = new();
    private static bool _loaded;

    /// <summary>What the loader tried and found, in order; for <c>lm-tune doctor</c> and error messages.</summary>
    public static IReadOnlyList<string> LoadTrace
    {
        get { lock (Gate) return TraceLines.ToArray(); }
    }

    /// <summary>The libtorch version TorchSharp 0.107 binds to, and so the version of the native packages.</summary>
    public const string LibtorchVersion = "2.10.0";

    /// <summary>
    /// The PackageReference that brings CPU libtorch for the platform this process runs on (<c>libtorch-cpu-linux-x64</c>,
    /// <c>-win-x64</c>, <c>-osx-arm64</c>): Lm.Runtime depends on the managed TorchSharp only, so an app chooses it.
    /// </summary>
    public static string NativePackageReference => NativePackageReferenceFor(NativePlatform.Current);

    internal static string NativePackageReferenceFor(NativePlatform platform) =>
        $"<PackageReference Include=\"{platform.CpuLibtorchPackage}\" Version=\"{LibtorchVersion}\" />";

    /// <summary>
    /// Whether loading may patch TorchSharp's bridge: on glibc Linux only, where the bridge names GLIBCXX symbol
    /// versions that an older libstdc++ lacks. Windows and macOS resolve C++ runtimes without symbol versions.
    /// </summary>
    internal static bool PatchesBridge(NativePlatform platform) => platform.Os == NativeOs.Linux && platform.Glibc;

    /// <summary>Folder for lm-tune's own caches: <c>$LM_TUNE_CACHE</c>, else <c>$XDG_CACHE_HOME/lm-tune</c>, else <c>~/.cache/lm-tune</c>.</summary>
    public static string CacheRoot
    {
        get
        {
            string? explicitRoot = Environment.GetEnvironmentVariable("LM_TUNE_CACHE");
            if (!string.IsNullOrEmpty(explicitRoot)) return explicitRoot;
            string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            string baseDir = !string.IsNullOrEmpty(xdg)
                ? xdg
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(baseDir, "lm-tune");
        }
    }

    /// <summary>
    /// Makes sure libtorch and the TorchSharp bridge are loaded; throws <see cref="LmException"/> (LM0001)
    /// with the real cause when they cannot be.
    /// </summary>
    public static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (_loaded) return;
            var platform = NativePlatform.Current;
            Trace(HeapTuning.Apply(platform));
            // Before anything loads libtorch (and with it libgomp, which reads the variable once).
            Trace(OpenMpSpin.Apply(platform));
            // Before anything loads libtorch, so that MKL's vendor check resolves to the override.
            Trace(MklCpuDispatch.Apply(CacheRoot, platform));
            if (PatchesBridge(platform)) PreloadBridgeOnLinux(platform.RuntimeIdentifier);
            else Trace($"bridge: {platform.RuntimeIdentifier} is not glibc Linux, TorchSharp loads it as shipped");
            // TorchSharp prints its load trace to standard output when loading fails; standard output carries a
            // command's results only (one JSON object with --json), so the trace goes to standard error.
            var standardOutput = Console.Out;
            Console.SetOut(Console.Error);
            try
            {
                // Forces TorchSharp's own native initialisation now, where its failure can be explained.
                TorchSharp.torch.InitializeDeviceType(TorchSharp.DeviceType.CPU);
            }
            catch (Exception e)
            {
                Trace($"TorchSharp initialisation failed: {Innermost(e).Message}");
                throw new LmException(ErrorCodes.NativeLoadFailed,
                    "libtorch could not be loaded: " + Innermost(e).Message + Environment.NewLine +
                    "  an app that loads models references the native package of its platform: " + NativePackageReference +
                    Environment.NewLine + string.Join(Environment.NewLine, TraceLines.Select(l => "  " + l)), e);
            }
            finally
            {
                Console.SetOut(standardOutput);
            }
            _loaded = true;
            Trace("TorchSharp ready");
        }
    }

    private static void PreloadBridgeOnLinux(string runtimeIdentifier)
    {
        string? bridge = FindBridge(runtimeIdentifier);
        if (bridge is null)
        {
            Trace("libLibTorchSharp.so not found next to the application; leaving the search to TorchSharp");
            return;
        }
        Trace($"bridge: {bridge}");
        string? error = TryLoad(bridge);
        if (error is null)
        {
            Trace("bridge loaded as shipped");
            return;
        }
        Trace($"bridge failed to load: {error}");
        var missing = MissingVersionPattern().Matches(error).Select(m => m.Groups[1].Value).Distinct().ToArray();
        if (missing.Length == 0) return; // Not a symbol-version problem: TorchSharp will report it.

        string directory = Path.GetDirectoryName(bridge)!;
        // The patched copy lives elsewhere, so $ORIGIN no longer finds its neighbours: load them first.
        foreach (string dependency in new[] { "libc10.so", "libtorch_cpu.so", "libtorch.so" })
        {
            string path = Path.Combine(directory, dependency);
            if (File.Exists(path))
            {
                string? depError = TryLoad(path);
                Trace(depError is null ? $"preloaded {dependency}" : $"could not preload {dependency}: {depError}");
            }
        }
        string patched;
        try
        {
            patched = WritePatchedCopy(bridge, missing);
        }
        catch (Exception e) when (e is InvalidOperationException or InvalidDataException or IOException or UnauthorizedAccessException)
        {
            Trace($"cannot patch the bridge for {string.Join(", ", missing)}: {e.Message}");
            return;
        }
        string? patchedError = TryLoad(patched);
        Trace(patchedError is null
            ? $"loaded patched bridge {patched} ({string.Join(", ", missing)} made optional)"
            : $"patched bridge failed too: {patchedError}");
    }

    private static string WritePatchedCopy(string bridge, string[] versions)
    {
        byte[] original = File.ReadAllBytes(bridge);
        string hash = Convert.ToHexString(SHA256.HashData(original))[..16].ToLowerInvariant();
        string folder = Path.Combine(CacheRoot, "native", hash + "-" + string.Join("-", versions.Order()));
        string target = Path.Combine(folder, Path.GetFileName(bridge));
        byte[] patched = ElfVersionPatcher.WeakenVersions(original, versions);
        // A cached copy is loaded into the process: reuse it only when it is byte for byte the patch of this
        // bridge, never a file something else left or changed under the cache folder.
        if (File.Exists(target) && File.ReadAllBytes(target).AsSpan().SequenceEqual(patched)) return target;
        Directory.CreateDirectory(folder);
        string temp = target + "." + Environment.ProcessId + ".tmp";
        File.WriteAllBytes(temp, patched);
        File.Move(temp, target, overwrite: true);
        Trace($"wrote patched copy {target}");
        return target;
    }

    private static string? FindBridge(string runtimeIdentifier)
    {
        var candidates = new List<string>();
        string baseDir = AppContext.BaseDirectory;
        candidates.Add(Path.Combine(baseDir, "libLibTorchSharp.so"));
        candidates.Add(Path.Combine(baseDir, "runtimes", runtimeIdentifier, "native", "libLibTorchSharp.so"));
        string? torchSharpDir = Path.GetDirectoryName(typeof(TorchSharp.torch).Assembly.Location);
        if (!string.IsNullOrEmpty(torchSharpDir))
        {
            candidates.Add(Path.Combine(torchSharpDir, "libLibTorchSharp.so"));
            // Running from the NuGet cache (lib/net8.0/TorchSharp.dll): the native file sits under runtimes/.
            candidates.Add(Path.GetFullPath(Path.Combine(torchSharpDir, "..", "..", "runtimes", runtimeIdentifier, "native", "libLibTorchSharp.so")));
        }
        return candidates.FirstOrDefault(File.Exists);
    }

    private static string? TryLoad(string path)
    {
        try
        {
            NativeLibrary.Load(path);
            return null;
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
        {
            return e.Message;
        }
    }

    private static void Trace(string line)
    {
        TraceLines.Add(line);
    }

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e;
    }

    [GeneratedRegex(@"version `([A-Za-z_]+_[0-9.]+)' not found")]
    private static partial Regex MissingVersionPattern();
}
