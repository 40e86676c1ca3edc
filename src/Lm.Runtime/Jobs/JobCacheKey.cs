using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lm.Runtime.Jobs;

/// <summary>
/// The content-addressed key of a resolved job: SHA-256 over the job (paths inside the project written relative to
/// it, so a clone elsewhere has the same key), the contents of every local input (data files, a local model, config
/// or tokenizer folder), the commit a hub model's revision resolved to, and the tool's version. Timestamps play no
/// part, so a fresh clone with a restored output folder (CI's cache) finds its stamp up to date, and changing one
/// byte of the data changes the key. The MSBuild tasks compile this file (linked) to decide up-to-date and resume;
/// <c>lm-tune train --print-cache-key</c> prints the same key for the same job file.
/// </summary>
internal static class JobCacheKey
{
    /// <summary>Fields whose value is a local path when it names an existing file or folder.</summary>
    private static readonly string[] LocalInputFields = ["train_file", "validation_file", "model_name_or_path", "config_name", "tokenizer_name"];

    /// <summary>The lines the key hashes, in order (shown by <c>--print-cache-key --verbose</c> and logged by the build).</summary>
    /// <param name="jobJson">The resolved job (flat JSON, HF names).</param>
    /// <param name="projectDirectory">Paths under it are written relative to it.</param>
    /// <param name="toolVersion">The tool's version (its informational version, or a content hash for a stand-in).</param>
    /// <param name="hashes">Content hashes, cached by size and time.</param>
    /// <param name="pinnedCommit">The hub commit a previous run resolved (from its stamp), used when the hub cache has no ref.</param>
    public static IReadOnlyList<string> Lines(string jobJson, string projectDirectory, string toolVersion, ContentHashes hashes,
        string? pinnedCommit = null)
    {
        var job = JsonNode.Parse(jobJson) as JsonObject ?? new JsonObject();
        string project = Path.GetFullPath(projectDirectory).TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar) + Path.DirectorySeparatorChar;
        var lines = new List<string> { "lm-tune-cache-key 1", "tool " + toolVersion };
        var relative = new JsonObject();
        // The token neither changes what trains nor may appear in the printed lines (--print-cache-key --verbose).
        foreach (var (key, value) in job.Where(p => p.Key != "hub_token").OrderBy(p => p.Key, StringComparer.Ordinal))
            relative[key] = value is JsonValue v && v.GetValueKind() == JsonValueKind.String ? Relative(v.GetValue<string>(), project) : value?.DeepClone();
        // Minimal escaping: the line is hashed, never embedded in HTML, and reads as written ("<project>/train.txt").
        lines.Add("job " + CanonicalJson(relative));
        foreach (string field in LocalInputFields)
        {
            if (Text(job, field) is not { } path) continue;
            string full = Path.IsPathRooted(path) ? path : Path.Combine(project, path);
            if (File.Exists(full)) lines.Add($"file {field} {Relative(full, project)} {hashes.Sha256(full)}");
            else if (Directory.Exists(full))
            {
                foreach (string file in Directory.EnumerateFiles(full, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
                    lines.Add($"file {field} {Relative(file, project)} {hashes.Sha256(file)}");
            }
        }
        if (Text(job, "model_name_or_path") is { } model && HubCommit(job, model, project, pinnedCommit) is { } commit)
            lines.Add($"hub {model}@{commit}");
        return lines;
    }

    /// <summary>The key: lowercase hex SHA-256 of <see cref="Lines"/>.</summary>
    public static string Compute(IReadOnlyList<string> lines) =>
        ContentHashes.Hex(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\n", lines) + "\n")));

    /// <summary>
    /// The commit a hub id's revision resolves to in the local hub cache (<c>models--org--name/refs/REVISION</c>, as the
    /// hub client leaves it), a revision that is itself a commit, or <paramref name="pinnedCommit"/>; null for a
    /// local path, a preset, or a hub model never resolved here.
    /// </summary>
    public static string? HubCommit(JsonObject job, string model, string project, string? pinnedCommit)
    {
        string full = Path.IsPathRooted(model) ? model : Path.Combine(project, model);
        // A local folder is hashed as files; a tiny-* preset is drawn at random from the job's seed: neither is a hub model.
        if (File.Exists(full) || Directory.Exists(full)) return null;
        if (model.StartsWith("tiny-", StringComparison.OrdinalIgnoreCase) && !model.Contains('/')) return null;
        string revision = Text(job, "model_revision") ?? "main";
        if (revision.Length == 40 && revision.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f')) return revision;
        string refs = Path.Combine(HubCacheFolder(Text(job, "cache_dir")), "models--" + model.Replace("/", "--"), "refs", revision);
        try
        {
            if (File.Exists(refs)) return File.ReadAllText(refs).Trim();
        }
        catch (IOException)
        {
        }
        return pinnedCommit ?? "unresolved:" + revision;
    }

    /// <summary>HF's hub cache: <c>cache_dir</c>, else <c>$HF_HUB_CACHE</c>, else <c>$HF_HOME/hub</c>, else <c>~/.cache/huggingface/hub</c>.</summary>
    private static string HubCacheFolder(string? cacheDir)
    {
        if (!string.IsNullOrWhiteSpace(cacheDir)) return cacheDir;
        if (Environment.GetEnvironmentVariable("HF_HUB_CACHE") is { Length: > 0 } hubCache) return hubCache;
        if (Environment.GetEnvironmentVariable("HF_HOME") is { Length: > 0 } home) return Path.Combine(home, "hub");
        return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "huggingface", "hub");
    }

    private static string Relative(string path, string project) =>
        path.StartsWith(project, OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal)
            ? "<project>/" + path[project.Length..].Replace('\\', '/')
            : path;

    private static string? Text(JsonObject job, string key) =>
        job[key] is JsonValue v && v.GetValueKind() == JsonValueKind.String && v.GetValue<string>().Trim().Length > 0 ? v.GetValue<string>() : null;

    /// <summary>
    /// JSON text with only the escapes JSON requires (quote, backslash, control characters), written here rather than
    /// with System.Text.Json's relaxed encoder, which the MSBuild task's net472 build would have to carry.
    /// </summary>
    internal static string CanonicalJson(JsonNode? node)
    {
        var text = new StringBuilder();
        Write(node);
        return text.ToString();

        void Write(JsonNode? value)
        {
            switch (value)
            {
                case null:
                    text.Append("null");
                    break;
                case JsonObject map:
                    text.Append('{');
                    bool first = true;
                    foreach (var (key, item) in map)
                    {
                        if (!first) text.Append(',');
                        first = false;
                        WriteString(key);
                        text.Append(':');
                        Write(item);
                    }
                    text.Append('}');
                    break;
                case JsonArray list:
                    text.Append('[');
                    for (int i = 0; i < list.Count; i++)
                    {
                        if (i > 0) text.Append(',');
                        Write(list[i]);
                    }
                    text.Append(']');
                    break;
                case JsonValue scalar when scalar.GetValueKind() == JsonValueKind.String:
                    WriteString(scalar.GetValue<string>());
                    break;
                default:
                    text.Append(value.ToJsonString());
                    break;
            }
        }

        void WriteString(string value)
        {
            text.Append('"');
            foreach (char c in value)
            {
                switch (c)
                {
                    case '"': text.Append("\\\""); break;
                    case '\\': text.Append("\\\\"); break;
                    case '\n': text.Append("\\n"); break;
                    case '\r': text.Append("\\r"); break;
                    case '\t': text.Append("\\t"); break;
                    case < ' ': text.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture)); break;
                    default: text.Append(c); break;
                }
            }
            text.Append('"');
        }
    }
}

/// <summary>
/// SHA-256 of file contents, streamed, remembered by path, size and last-write time in a JSON file (so an unchanged
/// file is not read again); a file whose size or time changed is hashed again. A fresh clone hashes each file once.
/// </summary>
internal sealed class ContentHashes
{
    private readonly string? _cacheFile;
    private readonly JsonObject _entries;
    private bool _changed;

    /// <param name="cacheFile">Where the remembered hashes live (<c>obj/lm/.lm-content-hashes.json</c>); null keeps them in memory.</param>
    public ContentHashes(string? cacheFile)
    {
        _cacheFile = cacheFile;
        _entries = new JsonObject();
        if (cacheFile is null || !File.Exists(cacheFile)) return;
        try
        {
            if (JsonNode.Parse(File.ReadAllText(cacheFile)) is JsonObject entries) _entries = entries;
        }
        catch (Exception e) when (e is JsonException or IOException)
        {
            // A damaged cache only costs reading the files again.
        }
    }

    /// <summary>The file's SHA-256, lowercase hex.</summary>
    public string Sha256(string path)
    {
        var info = new FileInfo(path);
        string stamp = $"{info.Length}|{info.LastWriteTimeUtc.Ticks}";
        if (_entries[path] is JsonObject entry && entry["stamp"]?.GetValue<string>() == stamp && entry["sha256"]?.GetValue<string>() is { } known)
            return known;
        string hash;
        // SHA256.Create(): the instance API, which .NET Framework (the MSBuild task's net472 build) has too.
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
        using (var sha = SHA256.Create())
            hash = Hex(sha.ComputeHash(stream));
        _entries[path] = new JsonObject { ["stamp"] = stamp, ["sha256"] = hash };
        _changed = true;
        return hash;
    }

    /// <summary>Writes the remembered hashes when any was added (write-then-rename, so a reader never sees half a file).</summary>
    public void Save()
    {
        if (!_changed || _cacheFile is null) return;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(_cacheFile))!);
        string temp = _cacheFile + "." + Environment.ProcessId + ".tmp";
        File.WriteAllText(temp, _entries.ToJsonString());
        File.Move(temp, _cacheFile, overwrite: true);
        _changed = false;
    }

    internal static string Hex(byte[] bytes)
    {
        var text = new StringBuilder(bytes.Length * 2);
        foreach (byte b in bytes) text.Append(b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
        return text.ToString();
    }
}
