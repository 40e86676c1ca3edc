using System.Security.Cryptography;

namespace Lm.Runtime.Tests.Hub;

/// <summary>
/// Everything under a folder as one comparable text: each entry's relative path, kind, and the sha256 of a file's
/// bytes or a link's target (links are recorded, never followed). Equal digests before and after a hostile run
/// mean nothing in the folder was created, changed or removed.
/// </summary>
public static class FolderDigest
{
    public static string Of(string folder)
    {
        var lines = new List<string>();
        Walk(folder, folder, lines);
        lines.Sort(StringComparer.Ordinal);
        return string.Join('\n', lines);
    }

    /// <summary>A victim folder with a few files and a subfolder, the kind a hostile server would aim at.</summary>
    public static string CreateVictim(string path)
    {
        Directory.CreateDirectory(Path.Combine(path, "notes"));
        File.WriteAllText(Path.Combine(path, "config.json"), "{\"owner\": \"the user\", \"model_type\": \"gpt2\"}");
        File.WriteAllText(Path.Combine(path, "notes", "todo.txt"), "nothing from a hub belongs here\n");
        File.WriteAllBytes(Path.Combine(path, "model.safetensors"), [1, 2, 3, 4]);
        return path;
    }

    private static void Walk(string root, string folder, List<string> lines)
    {
        foreach (string entry in Directory.EnumerateFileSystemEntries(folder))
        {
            string relative = Path.GetRelativePath(root, entry);
            var info = new FileInfo(entry);
            if (info.LinkTarget is { } target)
                lines.Add($"link {relative} -> {target}");
            else if (Directory.Exists(entry))
            {
                lines.Add($"dir  {relative}");
                Walk(root, entry, lines);
            }
            else
            {
                using var stream = File.OpenRead(entry);
                lines.Add($"file {relative} {Convert.ToHexStringLower(SHA256.HashData(stream))}");
            }
        }
    }
}
