using System.Runtime.InteropServices;

namespace Lm.Runtime.Checkpoints;

/// <summary>
/// fsync for files and folders. A rename is atomic, but without fsync a power loss after it can leave the new name
/// pointing at data that never reached the disk; a checkpoint's files and folder are flushed before its completion
/// marker is written and before the rename that publishes it.
/// </summary>
internal static partial class DurableFiles
{
    private const int ReadOnly = 0; // O_RDONLY
    private const int EInval = 22;
    private static readonly int ENotSup = OperatingSystem.IsLinux() ? 95 : 45;

    /// <summary>Flushes one file or folder to disk.</summary>
    public static void Flush(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            // Windows cannot open a folder as a file, and NTFS journals renames; files are flushed through a handle.
            if (!File.Exists(path)) return;
            using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
            stream.Flush(flushToDisk: true);
            return;
        }
        // POSIX lets fsync flush a descriptor opened read-only, which is the only way to open a folder.
        int fd = Open(path, ReadOnly);
        if (fd < 0) throw new IOException($"cannot open '{path}' to flush it to disk (errno {Marshal.GetLastPInvokeError()})");
        try
        {
            // EINVAL / ENOTSUP: the file system has no durable sync for this kind of file (some network and FUSE
            // file systems for folders); there is nothing more to wait for. Any other failure (EIO) is a lost write.
            if (Fsync(fd) != 0 && Marshal.GetLastPInvokeError() is int errno && errno != EInval && errno != ENotSup)
                throw new IOException($"cannot flush '{path}' to disk (errno {errno})");
        }
        finally
        {
            _ = Close(fd);
        }
    }

    /// <summary>Flushes every file under <paramref name="folder"/>, then each folder, deepest first.</summary>
    public static void FlushTree(string folder)
    {
        foreach (string file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)) Flush(file);
        foreach (string dir in Directory.EnumerateDirectories(folder, "*", SearchOption.AllDirectories).OrderByDescending(d => d.Length))
            Flush(dir);
        Flush(folder);
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
