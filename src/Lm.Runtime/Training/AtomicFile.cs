using Lm.Runtime.Checkpoints;

namespace Lm.Runtime.Training;

/// <summary>
/// Writes a file under a temp name in the same folder, flushes it and renames it, so no reader sees half a file and
/// a crash leaves either the old or the new content. The temp name carries this process's identity, so a temp file
/// left by a killed run is removed by the next save (<see cref="StagingFolders.RemoveStale"/>).
/// </summary>
internal static class AtomicFile
{
    public static void WriteAllText(string path, string text)
    {
        string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(folder);
        string temp = Path.Combine(folder, StagingFolders.TempFileName(Path.GetFileName(path)));
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            using (var writer = new StreamWriter(stream))
            {
                writer.Write(text);
                writer.Flush();
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
