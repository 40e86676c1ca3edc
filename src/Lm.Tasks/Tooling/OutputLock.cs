namespace Lm.Tasks.Tooling;

/// <summary>
/// An exclusive lock on a job's output: a lock file opened with FileShare.None, which the OS releases when the
/// holder exits, even when it is killed. Two builds of the same project therefore never train into one folder.
/// </summary>
internal sealed class OutputLock : IDisposable
{
    private readonly FileStream _stream;

    private OutputLock(FileStream stream) => _stream = stream;

    /// <summary>Takes the lock now, or returns null when another process holds it.</summary>
    public static OutputLock? TryAcquire(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        try
        {
            return new OutputLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// Waits for the lock up to <paramref name="timeout"/>, calling <paramref name="onWait"/> once when it has to wait.
    /// Returns null on timeout or cancellation.
    /// </summary>
    public static OutputLock? Acquire(string path, TimeSpan timeout, Action onWait, CancellationToken cancellation)
    {
        var deadline = DateTime.UtcNow + timeout;
        bool waited = false;
        while (true)
        {
            if (TryAcquire(path) is { } acquired) return acquired;
            if (!waited)
            {
                onWait();
                waited = true;
            }
            if (DateTime.UtcNow >= deadline || cancellation.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(250))) return null;
        }
    }

    public void Dispose() => _stream.Dispose();
}
