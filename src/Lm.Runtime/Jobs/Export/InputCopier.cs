using Lm.Runtime.Data;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Jobs.Export;

/// <summary>
/// Makes a job's local inputs reachable where the export runs: data files and model/tokenizer folders are copied
/// under <c>inputs/</c> (the export is then self-contained, as a cluster image or a job upload needs), or referred to
/// by absolute path for a shared file system. Hub ids and names that are not local stay as they are. Copies are
/// planned while the arguments are mapped and made by <see cref="CopyAll"/>, so a job that cannot be exported
/// leaves no folder behind.
/// </summary>
public sealed class InputCopier(string exportFolder, bool copy)
{
    private const string InputsFolder = "inputs";
    private readonly List<(string Source, string Relative)> _planned = new();
    private readonly List<(string Relative, Action<string> Write)> _written = new();
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    /// <summary>Makes the planned copies and writes; returns the files, relative to the export folder with '/' separators.</summary>
    public IReadOnlyList<string> CopyAll()
    {
        var files = new List<string>();
        foreach (var (source, relative) in _planned)
        {
            string target = Path.Combine(exportFolder, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            System.IO.File.Copy(source, target);
            files.Add(relative);
        }
        foreach (var (relative, write) in _written)
        {
            string target = Path.Combine(exportFolder, relative);
            Directory.CreateDirectory(target);
            write(target);
            files.AddRange(Directory.EnumerateFiles(target).Select(f => $"{relative}/{Path.GetFileName(f)}"));
        }
        return files;
    }

    /// <summary>A data file: its path inside the export, or its absolute path without copying.</summary>
    public string File(string role, string path)
    {
        TextSource.RequireNonEmptyFile(path);
        if (!copy) return Path.GetFullPath(path);
        string name = UniqueName(Path.GetFileName(path), role);
        string relative = $"{InputsFolder}/{name}";
        _planned.Add((path, relative));
        return relative;
    }

    /// <summary>
    /// A data file for TRL, which loads a dataset folder (<c>load_dataset("inputs/data")</c>) and finds its splits by
    /// file name: copied to <c>inputs/data/train.EXT</c> or <c>validation.EXT</c> (always copied: the names matter).
    /// Returns the folder.
    /// </summary>
    public string DataFolderFile(string role, string path)
    {
        TextSource.RequireNonEmptyFile(path);
        string split = role == "train_file" ? "train" : "validation";
        _planned.Add((path, $"{InputsFolder}/data/{split}{Path.GetExtension(path).ToLowerInvariant()}"));
        return $"{InputsFolder}/data";
    }

    /// <summary>A model, config or tokenizer reference: a local folder is copied (its files, not its subfolders: checkpoints stay behind).</summary>
    public string Folder(string nameOrPath, string role)
    {
        if (System.IO.File.Exists(nameOrPath))
        {
            // A config.json given by path: the Python stack takes a folder holding it.
            return CopyFiles(new[] { nameOrPath }, role, rename: "config.json");
        }
        if (!Directory.Exists(nameOrPath)) return nameOrPath; // a hub id
        if (!copy) return Path.GetFullPath(nameOrPath);
        var files = Directory.EnumerateFiles(nameOrPath).Where(f => !Path.GetFileName(f).StartsWith('.')).ToList();
        return CopyFiles(files, role, rename: null);
    }

    /// <summary>A folder lm-tune writes for a random initialisation (config.json and tokenizer files).</summary>
    public string FreshModel(Action<string> write)
    {
        string relative = $"{InputsFolder}/{UniqueName("model-config", "fresh")}";
        _written.Add((relative, write));
        return relative;
    }

    private string CopyFiles(IReadOnlyList<string> files, string role, string? rename)
    {
        string folderName = UniqueName(role, role);
        string relative = $"{InputsFolder}/{folderName}";
        foreach (string file in files) _planned.Add((file, $"{relative}/{rename ?? Path.GetFileName(file)}"));
        return relative;
    }

    private string UniqueName(string name, string role)
    {
        if (name.Length == 0 || name is "." or "..")
            throw new LmException(ErrorCodes.ExportOptionInvalid, $"cannot export the {role} input '{name}'");
        string candidate = name;
        if (!_names.Add(candidate))
        {
            candidate = $"{role}-{name}";
            for (int i = 2; !_names.Add(candidate); i++) candidate = $"{role}{i}-{name}";
        }
        return candidate;
    }
}
